"""Local estimators of the quench observables, per configuration.

O_loc(s) = Σ_s' O_ss' ψ(s')/ψ(s), averaged over |ψ|² samples like the energy:
  sx     (1/N) Σ_i σˣ_i          off-diagonal: a single-flip "Hamiltonian" with elements 1/N
  sz     (1/N) Σ_i σᶻ_i          diagonal
  zz_nn  (1/N_b) Σ_⟨ij⟩ σᶻ_i σᶻ_j  diagonal, over the lattice's nearest-neighbour bonds
  energy                          the local energy of the evolving Hamiltonian
Each is registered (``register_observable``) with its local estimator and its exact one on a
state vector; a new observable is one registration. With the Marshall rotation the state
lives in the rotated frame, where σˣ_i picks up a sign on sublattice 1; the σᶻ observables
are unchanged by it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep import registry
from nqs_sweep.mc.estimators import local_energies
from nqs_sweep.mc.sampler import LogPsi
from nqs_sweep.physics.hamiltonians import Hamiltonian
from nqs_sweep.physics.lattice import Lattice


def sx_operator(lat: Lattice, marshall_sign: bool) -> Hamiltonian:
    """(1/N) Σ σˣ_i as bond tables, so the local-energy kernel evaluates it."""
    n = lat.n_sites
    coef = np.full(n, 1.0 / n)
    if marshall_sign:
        coef = coef * np.where(lat.sublattice == 1, -1.0, 1.0)
    none = np.zeros((0, 2), np.int32)
    return Hamiltonian(
        zz_bonds=jnp.asarray(none),
        zz_coef=jnp.zeros(0),
        flip_sites=jnp.arange(n, dtype=jnp.int32),
        flip_coef=jnp.asarray(coef),
        exch_bonds=jnp.asarray(none),
        exch_coef=jnp.zeros(0),
    )


@dataclass(frozen=True)
class Observable:
    """One registered observable, with its two estimators.

    ``local(lat, marshall_sign, log_psi, theta, s (B, N), e_loc (B,)) -> (B,)``: the local
    value O_loc(s) = Σ_s' O_ss' ψ(s')/ψ(s), averaged over |ψ|² samples like the energy.
    ``exact(ctx, v) -> float``: ⟨v|O|v⟩/⟨v|v⟩ on a state vector of the sector's basis
    (nqs_sweep.physics.exact_dynamics builds ``ctx``: lattice, spins per site, the Hamiltonian).
    A diagonal observable gives ``diagonal(ctx) -> values per basis state`` instead, computed
    once per trajectory. ``full_space_only``: its O leaves the zero-magnetisation sector.
    """

    name: str
    local: Callable
    description: str
    exact: Callable | None = None
    diagonal: Callable | None = None
    full_space_only: bool = False


OBSERVABLES: dict[str, Observable] = {}


def register_observable(observable: Observable) -> Observable:
    if (observable.exact is None) == (observable.diagonal is None):
        raise ValueError(f"observable {observable.name!r}: give exactly one of exact and diagonal")
    return registry.add(OBSERVABLES, observable, "observable")


def _sx_exact(ctx, v: np.ndarray) -> float:
    n = ctx.n_sites
    idx = np.arange(v.size, dtype=np.int64)
    total = 0.0
    for i in range(n):
        sign = -1.0 if (ctx.marshall_sign and ctx.lattice.sublattice[i] == 1) else 1.0
        total += sign * np.vdot(v, v[idx ^ (1 << (n - 1 - i))]).real
    return total / n / np.vdot(v, v).real


register_observable(
    Observable(
        "sx",
        lambda lat, marshall, log_psi, theta, s, e_loc: local_energies(sx_operator(lat, marshall), log_psi, theta, s),
        "(1/N) Σ σˣ_i",
        exact=_sx_exact,
        full_space_only=True,
    )
)
register_observable(
    Observable(
        "sz",
        lambda lat, marshall, log_psi, theta, s, e_loc: jnp.mean(s, axis=-1),
        "(1/N) Σ σᶻ_i",
        diagonal=lambda ctx: sum(s.astype(np.float64) for s in ctx.spins) / ctx.n_sites,
    )
)


def _zz_nn_local(lat, marshall, log_psi, theta, s, e_loc):
    b = jnp.asarray(lat.nn_bonds)
    return jnp.mean(s[:, b[:, 0]] * s[:, b[:, 1]], axis=-1)


register_observable(
    Observable(
        "zz_nn",
        _zz_nn_local,
        "(1/N_b) Σ⟨ij⟩ σᶻ_i σᶻ_j over nearest-neighbour bonds",
        diagonal=lambda ctx: (
            sum((ctx.spins[i] * ctx.spins[j]).astype(np.float64) for i, j in ctx.lattice.nn_bonds) / len(ctx.lattice.nn_bonds)
        ),
    )
)
register_observable(
    Observable(
        "energy",
        lambda lat, marshall, log_psi, theta, s, e_loc: e_loc,
        "the energy of the evolving Hamiltonian",
        exact=lambda ctx, v: float(np.vdot(v, ctx.hamiltonian @ v).real / np.vdot(v, v).real),
    )
)


def local_observables(
    names: tuple[str, ...], lat: Lattice, marshall_sign: bool, log_psi: LogPsi, theta: jax.Array, s: jax.Array, e_loc: jax.Array
) -> dict[str, jax.Array]:
    """name -> (B,) local values for configurations s: (B, N); e_loc is the energy's."""
    return {name: OBSERVABLES[name].local(lat, marshall_sign, log_psi, theta, s, e_loc) for name in names}
