# Two commands on a fresh machine: `make build` (templates) and `make test` (everything);
# `make lint` is the style gate CI runs first.
# Build installs only what rendering needs; test tools come with `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS_VENV := .venv-tools
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
IAMSIM := tests/iamsim
LINT_PATHS := generator cli.py tests seed_code
# An organisation's release: `make build CONFIG=org.yaml` (and validate, docs, package, publish)
# reads and writes build/<config stem>/ only; without CONFIG the committed defaults.
CONFIG ?=
CLI := $(VENV)/bin/mlops-templates$(if $(CONFIG), --config $(CONFIG))

.PHONY: build validate lint test bench bench-fresh seed-run package docs docs-check publish clean

$(VENV)/.stamp-build: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e .
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-build setup.cfg
	$(PIP) install -e '.[test]'
	touch $@

# checkov pins old boto3/packaging: it lives in its own environment and is called as a command.
$(TOOLS_VENV)/.stamp: tests/tools-requirements.txt
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip --disable-pip-version-check -q install -r tests/tools-requirements.txt
	touch $@

$(IAMSIM)/node_modules/.stamp: $(IAMSIM)/package.json $(IAMSIM)/package-lock.json
	cd $(IAMSIM) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Templates first (the gate), then the reference pages generated from them.
build: $(VENV)/.stamp-build
	$(CLI) build $(if $(NO_CACHE),--no-cache)
	$(CLI) docs

validate: $(VENV)/.stamp-build
	$(CLI) validate $(if $(NO_CACHE),--no-cache)

# ruff: rules and settings in pyproject.toml ([tool.ruff]); `ruff format` fixes what --check finds.
lint: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

test: $(VENV)/.stamp-test $(TOOLS_VENV)/.stamp $(IAMSIM)/node_modules/.stamp
	$(PY) -m pytest

# Figures against their targets; an OVER TARGET line fails only with BENCH_FLAGS=--strict.
bench: $(VENV)/.stamp-test
	$(PY) tests/bench.py $(BENCH_FLAGS)

bench-fresh:
	$(PYTHON) tests/bench.py --fresh

seed-run: $(VENV)/.stamp-test
	$(VENV)/bin/mlops-templates seed-run

package: $(VENV)/.stamp-build
	$(CLI) package

docs: $(VENV)/.stamp-build
	$(CLI) docs

docs-check: $(VENV)/.stamp-build
	$(CLI) docs --check

# make publish [CONFIG=org.yaml] BUCKET=my-templates [PREFIX=releases/v0.1.0] [KMS_KEY_ID=alias/x] [REGION=eu-west-1]
publish: package
	$(CLI) publish --bucket $(BUCKET) $(if $(PREFIX),--prefix $(PREFIX)) $(if $(KMS_KEY_ID),--kms-key-id $(KMS_KEY_ID)) $(if $(REGION),--region $(REGION))

clean:
	rm -rf $(VENV) $(TOOLS_VENV) $(IAMSIM)/node_modules dist build .cache *.egg-info
