import os
import shutil
import tempfile

# The temporary directories this process made for the run, removed when the run ends (pytest_unconfigure):
# a suite run left ~80 MB of compiled programs in /tmp each time. pytest-xdist workers inherit the
# variables and make none, so only the process that made a directory removes it.
_MADE: list[str] = []

# One persistent XLA compilation cache for the whole run, shared with the CLI and Snakemake
# subprocesses (they inherit the environment): the same step functions are compiled once.
# Set before anything imports jax, which reads these at import.
# pytest-xdist workers inherit the controller's directory (set first), so they share the cache.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="nqs-sweep-jax-cache-")
    _MADE.append(os.environ["JAX_COMPILATION_CACHE_DIR"])
# Every program kept, as the CLI keeps them (cli.use_compilation_cache): the suite's Snakemake and
# CLI jobs then reuse each other's small programs as a user's sweep does. The workflow tests took
# 251 s instead of 271 s with this than with 0.2 s (tests/workflow/test_workflow.py, one run each).
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# The suite's own thread discipline (docs/performance.md): pytest-xdist runs one worker per core,
# and each worker's pools (and the CLI and Snakemake processes it starts, which inherit this)
# get the cores divided among the workers, instead of a thread per core each, oversubscribed.
# The xdist controller imports this first (count 1: all cores) and its workers inherit its
# environment, so a count set here is marked as ours and each worker sets its own; a count the
# user set is kept everywhere. (Without the mark every worker ran with all cores: 2 each on 2 cores.)
if "NQS_THREADS" not in os.environ or os.environ.get("NQS_TEST_THREADS_SET_BY") == "conftest":
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ["NQS_THREADS"] = str(max(1, _cores // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
    os.environ["NQS_TEST_THREADS_SET_BY"] = "conftest"

# Snakemake imports every installed executor plugin when it starts, and the SLURM plugin
# (snakemake-executor-plugin-slurm 2.8, job_status_query.get_min_job_age) runs `scontrol show config`
# as it is imported. Where SLURM's client is installed and no controller answers (this machine and
# CI once tests/cluster has installed and stopped its cluster), scontrol retries for 9 s: every
# Snakemake start of the suite waited for it (`snakemake -n` of the tiny study: 12.0 s, 2.5 s with
# this). Outside tests/cluster, whose fixture restores the real one, scontrol reads a configuration
# whose controller refuses at once. Set whether or not scontrol is there yet: CI installs it mid-run.
if "SLURM_CONF" not in os.environ:
    _MADE.append(tempfile.mkdtemp(prefix="nqs-sweep-no-slurm-"))
    _conf = os.path.join(_MADE[-1], "slurm.conf")
    with open(_conf, "w") as _f:
        _f.write("ClusterName=none\nSlurmctldHost=localhost\nSlurmctldPort=9\nMessageTimeout=1\n")
    os.environ["SLURM_CONF"] = os.environ["NQS_TEST_NO_SLURM_CONF"] = _conf

import pytest  # noqa: E402

from nqs_sweep.spec import parse_spec  # noqa: E402


def pytest_unconfigure(config):
    for path in _MADE:
        shutil.rmtree(path, ignore_errors=True)


def make_spec(model: dict, lattice: dict, ansatz: dict | None = None, **extra):
    raw = {"model": model, "lattice": lattice, "ansatz": ansatz or {"name": "rbm", "alpha": 1}}
    raw.update(extra)
    return parse_spec(raw)


@pytest.fixture
def spec_factory():
    return make_spec


@pytest.fixture
def tiny_point() -> dict:
    """A point spec that runs in seconds through the CLI: the L = 4 Ising chain, 3 SR steps."""
    return {
        "model": {"name": "tfim", "J": 1.0, "h": 0.5},
        "lattice": {"kind": "chain", "L": 4, "pbc": True},
        "ansatz": {"name": "rbm", "alpha": 1},
        "sampler": {"kind": "metropolis", "n_samples": 64, "n_chains": 8, "n_discard": 2},
        "optimizer": {"kind": "sr", "learning_rate": 0.05, "diag_shift": 0.01, "n_iter": 3},
        "seed": 0,
    }
