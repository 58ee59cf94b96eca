"""Local estimators of the quench observables, per configuration.

O_loc(s) = Σ_s' O_ss' ψ(s')/ψ(s), averaged over |ψ|² samples like the energy:
  sx     (1/N) Σ_i σˣ_i          off-diagonal: a single-flip "Hamiltonian" with elements 1/N
  sz     (1/N) Σ_i σᶻ_i          diagonal
  zz_nn  (1/N_b) Σ_⟨ij⟩ σᶻ_i σᶻ_j  diagonal, over the lattice's nearest-neighbour bonds
  energy                          the local energy of the evolving Hamiltonian
With the Marshall rotation the state lives in the rotated frame, where σˣ_i picks
up a sign on sublattice 1; the σᶻ observables are unchanged by it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nqs_sweep.estimators import local_energies
from nqs_sweep.physics.hamiltonians import Hamiltonian
from nqs_sweep.physics.lattice import Lattice
from nqs_sweep.sampler import LogPsi


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


def local_observables(
    names: tuple[str, ...], lat: Lattice, marshall_sign: bool, log_psi: LogPsi, theta: jax.Array, s: jax.Array, e_loc: jax.Array
) -> dict[str, jax.Array]:
    """name -> (B,) local values for configurations s: (B, N); e_loc is the energy's."""
    out = {}
    for name in names:
        if name == "sx":
            out[name] = local_energies(sx_operator(lat, marshall_sign), log_psi, theta, s)
        elif name == "sz":
            out[name] = jnp.mean(s, axis=-1)
        elif name == "zz_nn":
            b = jnp.asarray(lat.nn_bonds)
            out[name] = jnp.mean(s[:, b[:, 0]] * s[:, b[:, 1]], axis=-1)
        elif name == "energy":
            out[name] = e_loc
        else:
            raise ValueError(f"unknown observable {name!r}")
    return out
