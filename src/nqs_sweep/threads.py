"""Thread discipline: every thread pool a solver process uses, sized to the job's threads, in one place.

A sweep runs as many jobs as cores (``snakemake --cores all``), and a cluster node is shared
with other users' jobs. Each library then starts one thread per core by default, and
OpenBLAS's threads busy-wait when their core is taken: measured on 2 cores with one competing
busy process, the W1 step went from 0.09 s to 1.4 s. So every solver process sizes its pools to
the job's ``threads`` before it computes anything:

- **BLAS/LAPACK.** JAX's CPU linear algebra (Cholesky, eigh, SVD, triangular solves) calls the
  LAPACK that scipy ships (``scipy.libs/libscipy_openblas``: jaxlib takes its LAPACK symbols from
  ``scipy.linalg.cython_lapack``); numpy has its own copy (``numpy.libs/libscipy_openblas64_``).
  Both are OpenBLAS with pthreads. Their thread counts are read from the environment when the
  library loads, so the environment is set first, and threadpoolctl resets the ones already loaded.
- **XLA's CPU pool.** Matrix products and fused loops of the jitted step run on XLA's intra-op
  Eigen pool (threads named ``tf_XLAEigen``), which the CPU client sizes once, when JAX's backend
  starts, from ``PJRT_NPROC`` (else the CPUs this process may run on). There is no other knob.
- **OpenMP**, for any library built with it (``OMP_NUM_THREADS``).

The job's thread count comes from ``--threads`` on the command line (the workflow passes each
rule's ``threads:``), else ``NQS_THREADS``, else the CPUs this process may use. ``nqs_sweep``'s
``__init__`` applies ``NQS_THREADS`` before it imports JAX (and so numpy), which is the only way
to size the pools before their libraries load; :func:`configure`, called later (by the CLI, after
``import nqs_sweep`` but before the first computation), resizes the BLAS pools in place and sets
what XLA reads when its backend starts. The XLA pool count is read from ``/proc`` (Linux only).
"""

from __future__ import annotations

import os

ENV_VAR = "NQS_THREADS"

# The variables each pool reads when it starts. OpenBLAS reads OPENBLAS_NUM_THREADS first and
# falls back to GOTO/OMP; MKL and BLIS are here for installations that swap the BLAS in.
_POOL_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "PJRT_NPROC",
)


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask: a SLURM allocation or taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def job_threads(requested: int | None = None) -> int:
    """The job's thread count: the request, else NQS_THREADS, else the available cores."""
    if requested is None:
        text = os.environ.get(ENV_VAR, "").strip()
        if not text:
            return available_cores()
        try:
            requested = int(text)
        except ValueError:
            raise ValueError(f"{ENV_VAR}: expected a whole number >= 1; got {text!r}") from None
        where = ENV_VAR
    else:
        where = "--threads"
    if requested < 1:
        raise ValueError(f"{where}: expected a whole number >= 1; got {requested}")
    return requested


def environment(threads: int) -> dict[str, str]:
    """The environment variables that size every pool to ``threads`` in a process started with them."""
    return {ENV_VAR: str(threads), **{name: str(threads) for name in _POOL_VARIABLES}}


def _cpu_backend_started() -> bool:
    import sys

    bridge = sys.modules.get("jax._src.xla_bridge")
    return bridge is not None and "cpu" in (getattr(bridge, "_backends", None) or {})


def applied_threads() -> int | None:
    """The count configure (or ``import nqs_sweep`` with NQS_THREADS) applied, None if none was."""
    try:
        n = int(os.environ.get(ENV_VAR, ""))
    except ValueError:
        return None
    return n if n >= 1 else None


def configure(threads: int | None = None) -> int:
    """Size every pool of this process to the job's threads; returns the count.

    Call it before the first JAX computation: XLA's pool is sized when the backend starts, and
    a backend already started keeps its size (a warning says so). BLAS libraries already loaded
    are resized in place; those loaded later read the environment set here.
    """
    n = job_threads(threads)
    os.environ.update(environment(n))
    have = xla_threads()
    if _cpu_backend_started() and have != n:
        import warnings

        warnings.warn(
            f"JAX's CPU backend already started ({'unknown' if have is None else have} threads in its pool); "
            f"{n} applies to BLAS and OpenMP only. Set {ENV_VAR}={n} in the environment before importing "
            "nqs_sweep, or call nqs_sweep.threads.configure before the first JAX computation.",
            RuntimeWarning,
            stacklevel=2,
        )
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    return n


def xla_threads() -> int | None:
    """Threads of XLA's intra-op CPU pool in this process (None before the CPU backend starts, or
    where threads cannot be listed: not Linux)."""
    if not _cpu_backend_started():
        return None
    try:
        names = [_thread_name(t) for t in os.listdir(f"/proc/{os.getpid()}/task")]
    except OSError:  # no /proc: not Linux
        return None
    return sum(name.endswith("XLAEigen") for name in names)


def _thread_name(tid: str) -> str:
    try:
        with open(f"/proc/{os.getpid()}/task/{tid}/comm") as f:
            return f.read().strip()
    except OSError:  # the thread ended while we looked
        return ""


def report(load_lapack: bool = True) -> dict:
    """What each pool of this process uses now: the job's count, each BLAS library and XLA's pool.

    With ``load_lapack``, first loads the LAPACK that JAX's CPU linear algebra calls (a tiny
    Cholesky), so the report names the library that the step's solves really reach.
    """
    from threadpoolctl import threadpool_info

    if load_lapack:
        import jax
        import jax.numpy as jnp

        # on the CPU device even where a GPU is the default: its LAPACK is the one reported
        try:
            cpu = jax.devices("cpu")[0]
        except RuntimeError:  # JAX_PLATFORMS without the CPU: no CPU LAPACK to load
            cpu = None
        if cpu is not None:
            with jax.default_device(cpu):
                jax.block_until_ready(jnp.linalg.cholesky(jnp.eye(2)))
    blas = [
        {
            "library": "/".join(info["filepath"].split(os.sep)[-2:]),
            "api": info["internal_api"],
            "threading": info.get("threading_layer", ""),
            "threads": info["num_threads"],
        }
        for info in threadpool_info()
    ]
    return {"job": applied_threads(), "blas": blas, "xla": xla_threads()}


def summary_columns() -> dict[str, int | None]:
    """The thread counts a run records beside its results (summary tables), as the run left them:
    the job's count (None where nothing was applied), the largest BLAS pool, XLA's pool (None
    where unknown). Never raises: it is called while recording results and failures."""
    rep = report(load_lapack=False)
    blas = [lib["threads"] for lib in rep["blas"] if lib["api"] != "openmp"]
    return {"threads": rep["job"], "threads_blas": max(blas) if blas else None, "threads_xla": rep["xla"]}
