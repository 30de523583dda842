# Battery arbitrage optimizer: the two Quickstart commands and their virtual environment.
#
#   make demo   the CLI on synthetic prices (APATZINGAN, January 2024)
#   make test   ruff, ruff format --check, mypy, pytest without the slow tests
#   (.ci/run runs `make test`, then `make test-slow`)
#
# Both create .venv with $(PYTHON) (3.11+) when it is missing and reinstall when a
# requirements file changes. Add new targets below the "Other targets" line.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# stamps record which requirements the venv holds
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.DEFAULT_GOAL := help
.PHONY: help venv dev-venv demo test test-slow

help:
	@echo "make demo   optimise a 10 MW / 40 MWh battery in APATZINGAN for January 2024 (synthetic prices)"
	@echo "make test   lint, type-check and run the test suite"

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The runtime set comes from requirements.lock (every package pinned, with hashes), then the
# dev tools from requirements-dev.txt on top of it.
$(RUNTIME_STAMP): requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(DEV_STAMP): requirements.lock requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(RUNTIME_STAMP) $@

venv: $(RUNTIME_STAMP)

dev-venv: $(DEV_STAMP)

demo: $(RUNTIME_STAMP)
	PRICE_SOURCE=synthetic $(BIN)/flask --app app optimize \
		--zone APATZINGAN --start 2024-01-01 --end 2024-01-31

# Every step runs even when an earlier one fails; pytest's summary is the last line and the
# exit status is non-zero if any step failed.
test: $(DEV_STAMP) checkov-venv
	@status=0; \
	echo "+ ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "+ ruff format --check ."; $(BIN)/ruff format --check . || status=1; \
	echo "+ mypy"; $(BIN)/mypy || status=1; \
	echo "+ pytest -m 'not slow'"; $(BIN)/pytest -m "not slow" || status=1; \
	exit $$status

# The tests marked slow (the real Lambda zip, the OpenAPI conformance run, long property runs);
# .ci/run runs them after `make test`.
test-slow: $(DEV_STAMP) checkov-venv
	$(BIN)/pytest -m slow

# --- Other targets (package, bench, ...) -----------------------------------------------------

# Lambda package for AWS: dist/lambda.zip (+ dist/lambda.zip.json) from manylinux wheels of
# requirements.lock for CPython 3.13; arm64 unless ARCH=x86_64 (match terraform's architecture).
ARCH ?= arm64
.PHONY: package checkov-venv

package: | $(BIN)/python
	$(BIN)/python scripts/package_lambda.py --arch $(ARCH)

# checkov in its own virtual environment (tests/test_checkov.py builds it too when missing).
checkov-venv: .venv-checkov/requirements-checkov.txt

.venv-checkov/requirements-checkov.txt: scripts/requirements-checkov.txt | $(BIN)/python
	$(BIN)/python scripts/checkov_venv.py

# The production WSGI server outside Lambda (README "Deployment"): gunicorn, sync workers.
# Its 30 s worker timeout stays above REQUEST_DEADLINE_S (default 20 s).
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
.PHONY: serve

serve: $(RUNTIME_STAMP)
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers $(WORKERS) --timeout 30 --no-control-socket app:app

# requirements.lock: requirements.txt's runtime set and everything it pulls in, each pinned with
# the hashes of all its files (any platform, CPython 3.11+: this venv and the Lambda's manylinux
# CPython 3.13 wheels alike). Run after editing requirements.txt; packages not named there keep
# their locked version unless LOCK_ARGS=--upgrade.
LOCK_ARGS ?=
.PHONY: lock

lock: $(DEV_STAMP)
	$(BIN)/uv pip compile requirements.txt --output-file requirements.lock --universal \
		--python-version 3.11 --generate-hashes --custom-compile-command "make lock" \
		--quiet $(LOCK_ARGS)
