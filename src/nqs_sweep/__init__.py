"""nqs-sweep: neural-quantum-state solver (VMC) for parameter-sweep studies."""

import os

from nqs_sweep import threads, xla_options

# Before JAX compiles anything: XLA reads its flags once (nqs_sweep.xla_options says which and why).
xla_options.apply()

# NQS_THREADS sizes every thread pool (BLAS, XLA, OpenMP) of a process that imports us: the
# pools read their variables when their libraries load, which the next import starts.
_requested = None
if os.environ.get(threads.ENV_VAR):
    try:
        _requested = threads.job_threads()
        os.environ.update(threads.environment(_requested))
    except ValueError:
        pass  # the CLI refuses the value by name (exit 2); a library user gets the pools' defaults

import jax  # noqa: E402

if _requested is not None:
    # numpy may have been imported before us, its OpenBLAS already sized: resize it in place, and
    # warn if the caller already started JAX's CPU backend.
    threads.configure(_requested)

# Physics here needs float64 (energies to 1e-10 in tests, Lanczos references);
# float32 stays selectable per ansatz. This must be set before any array exists.
jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"

# The public API (nqs_sweep.api and the registries), imported on first use so that
# `import nqs_sweep` stays cheap for the workflow's study expansion and the CLI's checks.
_API = {
    "run": "nqs_sweep.api",
    "load": "nqs_sweep.api",
    "exact": "nqs_sweep.api",
    "Result": "nqs_sweep.api",
    "SpecError": "nqs_sweep.spec",
    "parse_spec": "nqs_sweep.spec",
    "register_network": "nqs_sweep.models.registry",
    "Network": "nqs_sweep.models.registry",
    "register_model": "nqs_sweep.physics.hamiltonians",
    "Model": "nqs_sweep.physics.hamiltonians",
    "register_optimizer": "nqs_sweep.optim.optimizers",
    "Optimizer": "nqs_sweep.optim.optimizers",
    "register_observable": "nqs_sweep.mc.observables",
    "Observable": "nqs_sweep.mc.observables",
    "register_move": "nqs_sweep.mc.moves",
    "Move": "nqs_sweep.mc.moves",
    "Problem": "nqs_sweep.problem",
    "build_problem": "nqs_sweep.problem",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'nqs_sweep' has no attribute {name!r}")
