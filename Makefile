# Everything a fresh machine needs, from the lock file. Only python3 (>= 3.11) is assumed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## run: set up the environment and run the default study (config/config.yaml)
run: $(STAMP)
	$(BIN)/snakemake --cores all

## test: set up the environment and run the whole test suite (slow tests included)
test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest

## test-fast: the quick loop while working
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

## lock: re-resolve the pinned dependency set (needs the package index)
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet --upgrade pip
	.lockenv/bin/pip install --quiet "setuptools>=68" ".[workflow,dev]"
	.lockenv/bin/pip freeze --all --exclude nqs_sweep --exclude pip > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) results .snakemake
