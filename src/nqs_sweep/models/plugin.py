"""A researcher's own network, named in the spec by module: ``ansatz: {module: REF, kwargs: {...}}``.

REF is ``path/to/file.py:Name`` (a path relative to the working directory, where the workflow
and the CLI run) or ``package.module:Name`` (importable). ``Name`` is either

- a ``flax.linen.Module`` subclass (NetKet's and jVMC's models are), built as ``Name(**kwargs)``,
  initialised on a batch of configurations and applied to configurations (..., N) of ±1 values;
  it returns log ψ, real or complex, one value per configuration; or
- a function ``Name(n_sites, **kwargs) -> (init, apply)`` of plain JAX functions, with
  ``init(key) -> params`` (any pytree) and ``apply(params, s (B, N)) -> log ψ (B,)``.

The spec records the SHA-256 of the file that defines ``Name`` (``source_sha256``), so the
spec hash, and with it the workflow's decision to rerun a point, follows edits of that file.
Only that file is hashed: a network spread over several files should be named by the one that
changes, or carry a version in its kwargs.

A plug-in takes the generic path of every estimator (no incremental Metropolis kernel), which
is exact and about as fast as NetKet's for the same network.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from nqs_sweep.models.registry import Built


class PluginError(ValueError):
    """The module reference or the network it names is unusable (the message says why)."""


@dataclass(frozen=True)
class Resolved:
    obj: Any
    source: Path


def source_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _load_file(path: Path) -> Any:
    digest = source_sha256(path)
    # One module object per file content: an edited file (a new hash) is loaded afresh.
    name = f"nqs_sweep_plugin_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}_{digest[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    # The file may import its neighbours, as it would when run from its own directory.
    sys.path.insert(0, str(path.resolve().parent))
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except Exception as err:
        sys.modules.pop(name, None)
        raise PluginError(f"importing {path} failed: {type(err).__name__}: {err}") from err
    finally:
        sys.path.pop(0)
    return module


def resolve(reference: str) -> Resolved:
    """The object a module reference names, and the file that defines it."""
    if not isinstance(reference, str) or reference.count(":") != 1 or not all(reference.split(":")):
        raise PluginError(f"must be 'path/to/file.py:Name' or 'package.module:Name'; got {reference!r}")
    where, attr = reference.split(":")
    if where.endswith(".py") or "/" in where:
        path = Path(where)
        if not path.is_file():
            raise PluginError(f"no such file: {path} (paths are relative to the working directory, {Path.cwd()})")
        module = _load_file(path)
    else:
        try:
            module = importlib.import_module(where)
        except Exception as err:
            raise PluginError(f"cannot import {where}: {type(err).__name__}: {err}") from err
        if getattr(module, "__file__", None) is None:
            raise PluginError(f"{where} has no source file to hash")
        path = Path(module.__file__)
    if not hasattr(module, attr):
        public = sorted(n for n in vars(module) if not n.startswith("_"))
        raise PluginError(f"{where} has no {attr!r}; it defines {', '.join(public) or 'nothing public'}")
    obj = getattr(module, attr)
    # The file that defines the object, when it was imported into the named module.
    defining = sys.modules.get(getattr(obj, "__module__", ""), module)
    source = Path(getattr(defining, "__file__", None) or path)
    return Resolved(obj, source)


def _is_flax_module(obj: Any) -> bool:
    if not isinstance(obj, type):
        return False
    try:
        import flax.linen as nn
    except ImportError:  # no flax, no flax module
        return False
    return issubclass(obj, nn.Module)


def _batched(apply, n_sites: int):
    """log ψ over any leading shape: the network sees (B, N) batches only."""

    def log_psi_tree(params, s):
        lead = s.shape[:-1]
        batch = s.reshape(-1, n_sites)
        out = apply(params, batch)
        if getattr(out, "shape", None) != batch.shape[:1]:  # shapes are static: this runs once, at tracing
            got = getattr(out, "shape", type(out).__name__)
            raise PluginError(f"applied to {batch.shape[0]} configurations it returns {got}; log ψ needs ({batch.shape[0]},)")
        return out.reshape(lead)

    return log_psi_tree


def build(reference: str | Resolved, kwargs: dict[str, Any], n_sites: int) -> Built:
    """init and log ψ of the named (or already resolved) network (raises PluginError with the reason)."""
    obj = (reference if isinstance(reference, Resolved) else resolve(reference)).obj
    if _is_flax_module(obj):
        try:
            module = obj(**kwargs)
        except TypeError as err:
            raise PluginError(f"{obj.__name__}(**kwargs) failed: {err}") from err

        def init_params(key):
            variables = module.init(key, jnp.ones((1, n_sites)))
            extra = sorted(set(variables) - {"params"})
            if extra:
                raise PluginError(f"{obj.__name__} has variable collections besides 'params' ({', '.join(extra)}), not supported")
            return variables

        return Built(init_params, _batched(module.apply, n_sites), {})
    if callable(obj) and not isinstance(obj, type):
        try:
            pair = obj(n_sites, **kwargs)
        except TypeError as err:
            raise PluginError(f"{getattr(obj, '__name__', obj)}(n_sites, **kwargs) failed: {err}") from err
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(callable(f) for f in pair)):
            raise PluginError(f"{getattr(obj, '__name__', obj)}(n_sites, **kwargs) must return a pair (init, apply)")
        init, apply = pair
        return Built(init, _batched(apply, n_sites), {})
    raise PluginError(
        f"names a {type(obj).__name__}; expected a flax.linen.Module subclass or a function returning (init, apply)"
    )


@dataclass(frozen=True)
class Signature:
    """What the spec parser learns of a plug-in without running it (shapes only)."""

    param_dtype: str  # complex128 when any parameter is complex, else the widest real dtype
    n_params: int
    output_complex: bool


def inspect(reference: str | Resolved, kwargs: dict[str, Any], n_sites: int) -> Signature:
    """Check, by abstract evaluation, that the network initialises and returns one log ψ per
    configuration (raises PluginError naming what is wrong)."""
    built = build(reference, kwargs, n_sites)
    try:
        params = jax.eval_shape(built.init_params, jax.random.key(0))
    except PluginError:
        raise
    except Exception as err:
        raise PluginError(f"initialising it failed: {type(err).__name__}: {err}") from err
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise PluginError("it has no parameters")
    try:
        out = jax.eval_shape(built.log_psi_tree, params, jax.ShapeDtypeStruct((3, n_sites), jnp.float64))
    except PluginError:
        raise
    except Exception as err:
        raise PluginError(f"applying it to configurations (3, {n_sites}) failed: {type(err).__name__}: {err}") from err
    dtypes = [jnp.dtype(leaf.dtype) for leaf in leaves]
    if any(jnp.issubdtype(d, jnp.complexfloating) for d in dtypes):
        param_dtype = "complex128" if any(d == jnp.complex128 for d in dtypes) else "complex64"
    else:
        param_dtype = "float64" if any(d == jnp.float64 for d in dtypes) else "float32"
    return Signature(param_dtype, sum(int(leaf.size) for leaf in leaves), jnp.issubdtype(out.dtype, jnp.complexfloating))
