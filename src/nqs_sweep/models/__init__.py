"""Ansatze behind one interface: a real parameter vector θ and a batched log ψ.

Every network is written on its natural pytree of (possibly complex) arrays. The
solver sees a flat real vector θ = [Re p, Im p] instead, so the QGT, the SR solve
and checkpoints are the same code for real and complex networks, holomorphic or
not (this is NetKet's treatment of non-holomorphic networks; for holomorphic ones
it is equivalent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from nqs_sweep.models import amplitude_phase, plugin, projection, sign_prior

# Each network module registers itself on import: one name here per network, in the order
# error messages list them.
# isort: off
from nqs_sweep.models import rbm, ffnn, rbm_symm, gcnn, arnn, rbm_local, resnet, vit, pair_product  # noqa: F401

# isort: on
from nqs_sweep.models.registry import DTYPES, NETWORKS, Network, register_network

if TYPE_CHECKING:
    from nqs_sweep.spec import PointSpec

__all__ = ["DTYPES", "NETWORKS", "Ansatz", "Network", "make_ansatz", "make_projected_ansatz", "register_network"]


@dataclass(frozen=True)
class Ansatz:
    """A network with its parameter layout. Hashable, so it can close over jitted code."""

    name: str
    n_sites: int
    n_params: int  # parameters as the network counts them (a complex one counts once)
    is_complex: bool  # complex parameters
    real_output: bool  # log ψ real up to constant signs iπ (a real network without a phase network)
    real_dtype: object
    init_params: Callable  # key -> pytree
    log_psi_tree: Callable  # (pytree, s) -> log ψ
    unravel: Callable  # flat (complex or real) vector -> pytree
    # Optional fast kernels (nqs_sweep.mc.local_updates, nqs_sweep.mc.jacobian); None means the generic path.
    cache_tree: Callable | None = None  # (pytree, s (B, N)) -> per-configuration cache
    flip_tables_tree: Callable | None = None  # pytree -> what flip_ratio_tree needs, once per parameter set
    flip_ratio_tree: Callable | None = None  # (tables, s (N,), cache, sites (2,), active (2,)) -> (log ratio, cache)
    # flip_ratio_tree also takes a move of one site (sites and flags of shape (1,)): a local energy's
    # single flips then skip the second, inactive site of their pair (half the RBM's work per flip).
    single_flip_kernel: bool = False
    # The same with a log ratio of the same real part, cheaper where the phase costs more (a fixed
    # sign: models.sign_prior): all that a Metropolis acceptance reads. None: flip_ratio_tree.
    flip_modulus_ratio_tree: Callable | None = None
    # (tables, s (B, N), cache) -> the cache rebuilt where updates accumulate rounding (a matrix
    # inverse updated move by move: models.sign_prior.pair_move); run after every sweep. None: kept.
    refresh_cache_tree: Callable | None = None
    jacobian_blocks_tree: Callable | None = None  # (pytree, s (B, N)) -> {name: (U, V)}, real networks only
    # (pytree, s (B, N)) -> the pytree of ∂ log ψ / ∂p, each leaf with leading axis B (holomorphic
    # derivatives for complex parameters): a closed form instead of a reverse pass per configuration.
    log_derivatives_tree: Callable | None = None
    # Autoregressive networks: (pytree, s (..., N)) -> (..., N, 2) normalised log ψ_i(±1 | s_<i),
    # and optionally a draw with cached layers, (pytree, u (N, B) uniforms) -> configurations (B, N).
    conditionals_tree: Callable | None = None
    draw_tree: Callable | None = None
    # (pytree, direction, infidelity, key) -> the product state's parameters (dynamics.initial_states)
    product_state_tree: Callable | None = None

    @property
    def n_real_params(self) -> int:
        return 2 * self.n_params if self.is_complex else self.n_params

    def init(self, key: jax.Array) -> jax.Array:
        # One program: run op by op, every jax.random draw of a new shape compiles on its own
        # (the ARNN's eight normal draws took 2.7 s of compilation in the estimator test).
        return jax.jit(lambda k: self.to_real(ravel_pytree(self.init_params(k))[0]))(key)

    def to_real(self, flat: jax.Array) -> jax.Array:
        return jnp.concatenate([flat.real, flat.imag]) if self.is_complex else flat

    def to_tree(self, theta: jax.Array):
        if self.is_complex:
            n = self.n_params
            return self.unravel(jax.lax.complex(theta[:n], theta[n:]))
        return self.unravel(theta)

    def log_psi(self, theta: jax.Array, s: jax.Array) -> jax.Array:
        """Complex log ψ of configurations s, shape (..., N) -> (...)."""
        return self._jitted_log_psi(theta, s)

    # One program per shape, owned by this ansatz (freed with it; a module-level jit with the
    # ansatz static would keep every ansatz a long-lived process builds). Called from Python (a
    # test, an analysis, a notebook), a pass run op by op compiled one small program per
    # operation: seconds for a deep network. Inside a traced step it is a nested call that XLA
    # inlines, traced once however often the step calls it.
    @cached_property
    def _jitted_log_psi(self) -> Callable:
        def log_psi(theta: jax.Array, s: jax.Array) -> jax.Array:
            out = self.log_psi_tree(self.to_tree(theta), s)
            return out.astype(jnp.result_type(out.dtype, jnp.complex64))

        return jax.jit(log_psi)

    # An Ansatz is itself a log ψ function, so the estimators and samplers that take
    # one can find its fast kernels (a bare ansatz.log_psi takes the generic path).
    __call__ = log_psi

    @property
    def is_autoregressive(self) -> bool:
        return self.conditionals_tree is not None

    def conditionals(self, theta: jax.Array, s: jax.Array) -> jax.Array:
        """log ψ_i(σ | s_<i) for σ = +1, −1 at every site: (..., N) -> (..., N, 2)."""
        if self.conditionals_tree is None:
            raise ValueError(f"the ansatz {self.name!r} is not autoregressive: it has no conditionals to sample from")
        return self.conditionals_tree(self.to_tree(theta), s)

    def log_derivatives(self, theta: jax.Array, s: jax.Array) -> jax.Array:
        """O (B, P) complex, ∂ log ψ / ∂θ in the order of θ, from ``log_derivatives_tree``."""
        tree = self.log_derivatives_tree(self.to_tree(theta), s)
        rows = jax.vmap(lambda t: ravel_pytree(t)[0])(tree)
        rows = rows.astype(jnp.result_type(rows.dtype, jnp.complex64))
        # θ = [Re p, Im p] of a holomorphic network: ∂/∂Re p = f', ∂/∂Im p = i f'
        return jnp.concatenate([rows, 1j * rows], axis=1) if self.is_complex else rows

    def jacobian_blocks(self, theta: jax.Array, s: jax.Array) -> list:
        """Factored log-derivatives, in the order of θ (see nqs_sweep.mc.jacobian)."""
        blocks = self.jacobian_blocks_tree(self.to_tree(theta), s)
        return jax.tree.leaves(blocks, is_leaf=lambda x: isinstance(x, tuple))


def _structure(init_params: Callable) -> tuple:
    """(pytree of ShapeDtypeStruct, ShapeDtypeStruct of the flat vector, unravel) of init_params' output."""
    found = {}

    def flat_params(key):
        flat, found["unravel"] = ravel_pytree(init_params(key))
        return flat

    # ravel_pytree's unravel closes over shapes, sizes and dtypes only (no tracer), so it is valid
    # outside the trace that made it.
    flat = jax.eval_shape(flat_params, jax.random.key(0))
    return jax.eval_shape(init_params, jax.random.key(0)), flat, found["unravel"]


def make_ansatz(spec: PointSpec) -> Ansatz:
    """The spec's network: a registered one (nqs_sweep.models.registry) or a plug-in module."""
    return _make_ansatz(spec, projected=spec.symmetry is not None and spec.symmetry.project == "train")


def make_projected_ansatz(spec: PointSpec) -> Ansatz:
    """The spec's network projected onto its symmetry sector (the final stage of project: final)."""
    return _make_ansatz(spec, projected=True)


def _make_ansatz(spec: PointSpec, projected: bool) -> Ansatz:
    a = spec.ansatz
    lat = spec.lattice.build()
    sym = projection.plan(spec)
    if a.module:
        built = plugin.build(a.module, a.kwargs_dict, lat.n_sites)
    elif NETWORKS[a.name].takes_characters:
        built = NETWORKS[a.name].build(a, lat, spec.sector, characters=sym.network_characters)
    else:
        built = NETWORKS[a.name].build(a, lat, spec.sector)
    init_params, log_psi_tree, kernels = built.init_params, built.log_psi_tree, built.kernels
    if a.parametrization == "amplitude_phase":
        init_params, log_psi_tree, kernels = amplitude_phase.wrap(init_params, log_psi_tree, kernels)
    # before the projection, which then sums σ(T s) ψ(T s)
    if spec.sign_prior == "z2_pair_product":
        f0 = sign_prior.trainable_pairing(lat)
        group = sym.pair_product_group if projected else None
        init_params, log_psi_tree, kernels = sign_prior.wrap_trainable(init_params, log_psi_tree, kernels, f0, group)
    elif spec.sign_prior != "none":
        log_psi_tree, kernels = sign_prior.wrap(log_psi_tree, kernels, sign_prior.pairing(spec.sign_prior, lat))
    # The parameters' structure only, traced, never computed: an initialisation run op by op
    # here compiled every draw and reshape of every network built (docs/performance.md).
    example, flat, unravel = _structure(init_params)
    real_output = not a.complex_output
    if a.module:  # what the plug-in returns decides, not a spec field
        real_output = not jnp.iscomplexobj(jax.eval_shape(log_psi_tree, example, jnp.ones((1, lat.n_sites))))
    if sym.network_characters is not None and np.any(np.abs(np.imag(sym.network_characters)) > 1e-12):
        real_output = False  # complex characters in the final sum give ψ a varying phase
    if projected:
        if sym.cosets is None:
            raise ValueError("this spec has no projection (symmetry.project: none)")
        kernels = projection.project_kernels(log_psi_tree, kernels, sym.cosets)
        log_psi_tree = projection.project(log_psi_tree, sym.cosets)
        real_output = real_output and sym.cosets.is_real
    return Ansatz(
        name=a.name,
        n_sites=lat.n_sites,
        n_params=int(flat.size),
        is_complex=bool(jnp.issubdtype(flat.dtype, jnp.complexfloating)),
        real_output=real_output,
        real_dtype=jnp.finfo(flat.dtype).dtype,
        init_params=init_params,
        log_psi_tree=log_psi_tree,
        unravel=unravel,
        # the trained pair product's parameters are {"net", "pairing"}: the network's product states do not apply
        product_state_tree=None if spec.sign_prior == "z2_pair_product" else built.product_state,
        **kernels,
    )
