"""Thread discipline: a solver process started by the CLI has every pool at the job's thread count.

The processes are started with the opposite count in every variable a pool reads (what a shell,
a scheduler or Snakemake may leave behind), so a pool that ignored --threads would show it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from threadpoolctl import ThreadpoolController, threadpool_info

from nqs_sweep import threads

CORES = threads.available_cores()
# On one core there is no second count to tell apart; OpenBLAS caps its threads at the cores.
COUNTS = [1, 2] if CORES >= 2 else [1]
# XLA's pool is counted from /proc, and the library folders are those of Linux wheels.
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread pools are listed from /proc (Linux)")


def _hostile_env(threads_wanted: int) -> dict[str, str]:
    other = "1" if threads_wanted > 1 else str(max(CORES, 2))
    # the CPU backend, as CI has it, whatever platform or flags the parent process runs with
    dropped = (threads.ENV_VAR, "JAX_PLATFORMS", "XLA_FLAGS")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update({name: other for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PJRT_NPROC")})
    return env


def _cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nqs_sweep.cli", *argv], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("n", COUNTS)
def test_cli_sizes_blas_and_xla_pools_to_threads(n):
    proc = _cli("threads", "--threads", str(n), env=_hostile_env(n))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["job"] == n
    libraries = {lib["library"].split("/")[0]: lib["threads"] for lib in report["blas"]}
    # jax's CPU LAPACK (Cholesky, eigh) is scipy's OpenBLAS; numpy carries its own copy.
    assert "scipy.libs" in libraries and "numpy.libs" in libraries, report
    assert set(libraries.values()) == {n}, report
    assert report["xla"] == n


def test_nqs_threads_variable_is_the_default():
    env = _hostile_env(1)
    env[threads.ENV_VAR] = "1"
    proc = _cli("threads", env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["job"] == 1 and report["xla"] == 1
    assert {lib["threads"] for lib in report["blas"]} == {1}


def test_bad_thread_counts_are_refused_by_name():
    proc = _cli("threads", "--threads", "0", env=_hostile_env(1))
    assert proc.returncode == 2 and "--threads" in proc.stderr and ">= 1" in proc.stderr
    env = {**_hostile_env(1), threads.ENV_VAR: "many"}
    proc = _cli("threads", env=env)
    assert proc.returncode == 2 and threads.ENV_VAR in proc.stderr and "'many'" in proc.stderr


# One count: the `threads` command above covers both; this checks a run records what it used.
@pytest.mark.parametrize("n", COUNTS[-1:])
def test_vmc_run_records_the_pools_it_ran_with(tmp_path, n, tiny_point):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(tiny_point))
    out = tmp_path / "run"
    proc = _cli(
        "vmc", "--threads", str(n), "--spec", str(path), "--out", str(out), "--exact", "none", "--quiet", env=_hostile_env(n)
    )
    assert proc.returncode == 0, proc.stderr
    row = pd.read_parquet(out / "summary.parquet").iloc[0]
    # The run's SR solves went through scipy's LAPACK, so the summary's BLAS count includes it.
    assert (row["threads"], row["threads_blas"], row["threads_xla"]) == (n, n, n)
    # a JAX process holds more than its interpreter: the resident set, in MB, not in kB or bytes
    assert 100 < row["peak_memory_mb"] < 20_000


def test_environment_names_every_pool():
    env = threads.environment(3)
    assert env[threads.ENV_VAR] == "3"
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PJRT_NPROC"):
        assert env[name] == "3"


def test_job_threads_order_of_precedence(monkeypatch):
    monkeypatch.setenv(threads.ENV_VAR, "3")
    assert threads.job_threads(2) == 2
    assert threads.job_threads() == 3
    monkeypatch.delenv(threads.ENV_VAR)
    assert threads.job_threads() == threads.available_cores()
    with pytest.raises(ValueError, match="--threads"):
        threads.job_threads(0)


def test_importing_with_nqs_threads_resizes_a_numpy_loaded_before(tmp_path):
    # A script that imports numpy first, then nqs_sweep: numpy's OpenBLAS already started with its
    # default, and the import must bring it to NQS_THREADS.
    script = "import numpy, json; import nqs_sweep; from nqs_sweep import threads; print(json.dumps(threads.report()))"
    env = {**_hostile_env(1), threads.ENV_VAR: "1"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["job"] == 1 and report["xla"] == 1
    assert {lib["threads"] for lib in report["blas"]} == {1}


def test_configure_after_the_backend_started_warns_and_summaries_never_raise(monkeypatch):
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # this pytest process's CPU backend has started
    before = threads.xla_threads()
    other = 1 if before != 1 else 2
    monkeypatch.setattr(os, "environ", dict(os.environ))  # configure writes the environment
    saved = {info["filepath"]: info["num_threads"] for info in threadpool_info()}
    try:
        with pytest.warns(RuntimeWarning, match="already started"):
            threads.configure(other)
        assert threads.xla_threads() == before  # a started pool keeps its size
        assert {info["num_threads"] for info in threadpool_info()} == {min(other, CORES)}  # BLAS pools resized
    finally:
        controller = ThreadpoolController()
        for lib in controller.lib_controllers:
            lib.set_num_threads(saved.get(lib.filepath, lib.num_threads))
    os.environ[threads.ENV_VAR] = "many"
    assert threads.summary_columns()["threads"] is None


@pytest.mark.skipif(os.environ.get("NQS_TEST_THREADS_SET_BY") != "conftest", reason="NQS_THREADS was set by the user")
def test_each_pytest_worker_has_its_share_of_the_cores():
    """tests/conftest.py divides the cores among pytest-xdist's workers. The workers inherit the
    controller's environment, where the count was all the cores: each worker must set its own."""
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()
    share = max(1, CORES // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    report = threads.report()
    assert report["job"] == share and {lib["threads"] for lib in report["blas"]} == {share}, report
    assert report["xla"] in (share, None), report  # None: no /proc to count the pool's threads


def test_the_cli_lets_processes_share_a_gpu_unless_jax_memory_was_set():
    """cli.main turns JAX's 75 % preallocation off (points packed onto one GPU fit beside each
    other), and keeps any XLA_PYTHON_CLIENT_* setting of the user's."""
    code = (
        "import os, sys; from nqs_sweep import cli; cli.main(['threads', '--threads', '1']); "
        "print('PREALLOCATE=' + str(os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE')), file=sys.stderr)"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("XLA_PYTHON_CLIENT_")}
    for extra, expected in (
        ({}, "false"),
        ({"XLA_PYTHON_CLIENT_PREALLOCATE": "true"}, "true"),
        ({"XLA_PYTHON_CLIENT_MEM_FRACTION": ".3"}, "None"),
    ):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={**base, **extra})
        assert proc.returncode == 0, proc.stderr
        assert f"PREALLOCATE={expected}" in proc.stderr.splitlines(), (extra, proc.stderr[-2000:])
