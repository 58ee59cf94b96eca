# Everything a fresh machine needs, from the lock file. Only python3 (>= 3.11) is assumed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: env env-cuda run test test-fast paper lint lock bench throughput accuracy-4x4 clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "nqs-sweep needs Python >= 3.11; $(PYTHON) is " + sys.version.split()[0] + ": run make PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## env: only set up the environment (.venv from the lock file), e.g. on a cluster's login node
env: $(STAMP)

## env-cuda: the environment with CUDA-enabled jaxlib at the locked jax version (CUDA=12: older drivers)
CUDA ?= 13
env-cuda: $(STAMP)
	$(BIN)/pip install --quiet "jax[cuda$(CUDA)]==$$(sed -n 's/^jax==//p' requirements.lock)"
	$(BIN)/python -c "import jax; print(jax.devices())"

## run: set up the environment and run the default study (config/config.yaml)
run: $(STAMP)
	$(BIN)/snakemake --cores all

## paper: regenerate the paper's figures into results/paper/<scale>/ (workstation scale unless PAPER names another)
PAPER ?= config/paper/workstation.yaml
SNAKEMAKE_ARGS ?=
paper: $(STAMP)
	$(BIN)/snakemake -s workflow/paper.smk --cores all --configfile $(PAPER) $(SNAKEMAKE_ARGS)

# pytest workers: one per core this process may use, at most 4; one core (or TEST_WORKERS=0) runs in
# one process. nproc without the OpenMP variables, which it would otherwise obey. loadfile keeps each
# test module on one worker, so a module-scoped fixture exists once: the SLURM cluster of
# tests/cluster must (two workers would each start it, and the first to finish would stop it under
# the other), and the shared ground states of the t-VMC tests are computed once. (--dist loadgroup
# with xdist_group marks did not group tests under pytest 9: measured, both landed on two workers.)
TEST_WORKERS ?= $(shell n=$$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 1); echo $$(( n < 2 ? 0 : n < 4 ? n : 4 )))
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

## test: set up the environment and run the whole test suite (slow tests included)
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(PYTEST)

## test-fast: the quick loop while working
test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

## bench: nqs-sweep against NetKet on the benchmark workloads (own environment: the bench lock)
$(BENCH_STAMP): requirements.lock requirements-bench.lock pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -r requirements.lock -r requirements-bench.lock
	$(BENCH_VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(BENCH_STAMP)

# Idle and beside one busy process per core, both codes with one thread per pool (docs/performance.md).
BENCH_LOAD ?= 0,$(shell env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 1)
bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m benchmarks.run --load $(BENCH_LOAD) --threads 1 --out results/bench

## throughput: points per hour of the default study, cold and warm compilation cache
throughput: $(STAMP)
	$(BIN)/python -m benchmarks.throughput --out results/throughput

## accuracy-4x4: issue 19's 4x4 J1-J2 target (relative error <= 1e-4 within 20 minutes, one thread); ~19 min
accuracy-4x4: $(STAMP)
	$(BIN)/nqs-sweep vmc --spec config/j1j2_4x4.yaml --out results/accuracy/j1j2_4x4 --threads 1
	$(BIN)/python -m benchmarks.target results/accuracy/j1j2_4x4 --column rel_error_lanczos --max 1e-4 --seconds 1200

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

## lock: re-resolve the pinned dependency set (needs the package index)
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet --upgrade pip
	.lockenv/bin/pip install --quiet "setuptools>=68" ".[workflow,dev]"
	.lockenv/bin/pip freeze --all --exclude nqs_sweep --exclude pip > requirements.lock
	$(PYTHON) workflow/envs/from_lock.py
	rm -rf .lockenv

# The committed figure sets in results/paper/ stay.
clean:
	rm -rf $(VENV) $(BENCH_VENV) .snakemake $(filter-out results/paper,$(wildcard results/*)) results/paper/*/logs
