"""Spin Hamiltonians as bond tables, with connected elements generated inside jit.

Conventions (design.md): Pauli matrices, σ eigenvalues ±1.

- tfim:        H = -J Σ⟨ij⟩ σᶻσᶻ - h Σ σˣ
- xxz:         H =  J Σ⟨ij⟩ (σˣσˣ + σʸσʸ + Δ σᶻσᶻ)      (heisenberg: Δ = 1)
- j1j2:        H = J1 Σ⟨ij⟩ σ·σ + J2 Σ⟨⟨ij⟩⟩ σ·σ

Every model is a sum of three kinds of term, so one generic kernel serves all:
diagonal σᶻσᶻ bonds, single-spin flips (σˣ), and pair exchanges (σˣσˣ + σʸσʸ,
which maps |↑↓⟩ to 2|↓↑⟩ and kills parallel pairs). The Marshall sign rule is the
diagonal unitary (-1)^(number of up spins on sublattice 1); it multiplies an
off-diagonal element by -1 for each flipped spin on that sublattice, which we
fold into the coefficients once.

The Hamiltonian is a pytree: couplings are traced values, so a sweep over them
does not recompile.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from nqs_sweep.lattice import Lattice
from nqs_sweep.spec import PointSpec


class Hamiltonian(NamedTuple):
    zz_bonds: jnp.ndarray  # (n_zz, 2) int
    zz_coef: jnp.ndarray  # (n_zz,)
    flip_sites: jnp.ndarray  # (n_flip,) int
    flip_coef: jnp.ndarray  # (n_flip,)  element <s'|H|s> of a single flip
    exch_bonds: jnp.ndarray  # (n_exch, 2) int
    exch_coef: jnp.ndarray  # (n_exch,)  element of an antiparallel pair flip

    @property
    def n_connected(self) -> int:
        return self.flip_sites.shape[0] + self.exch_bonds.shape[0]


def build_hamiltonian(spec: PointSpec, xp=jnp) -> Hamiltonian:
    """Bond tables for the spec's model on its lattice (``xp=np`` for the exact solver)."""
    lat = Lattice(spec.lattice.kind, spec.lattice.L, spec.lattice.pbc)
    c = dict(spec.model.couplings)
    n = lat.n_sites
    empty_bonds = np.zeros((0, 2), np.int32)
    empty = np.zeros((0,), np.float64)
    zz_b, zz_c, ex_b, ex_c = [], [], [], []
    flip_sites, flip_coef = np.zeros(0, np.int32), empty

    def add_heisenberg(bonds: np.ndarray, J: float, delta: float) -> None:
        zz_b.append(bonds)
        zz_c.append(np.full(len(bonds), J * delta))
        ex_b.append(bonds)
        ex_c.append(np.full(len(bonds), 2.0 * J))

    name = spec.model.name
    if name == "tfim":
        zz_b.append(lat.nn_bonds)
        zz_c.append(np.full(len(lat.nn_bonds), -c["J"]))
        flip_sites = np.arange(n, dtype=np.int32)
        flip_coef = np.full(n, -c["h"])
    elif name in ("xxz", "heisenberg"):
        add_heisenberg(lat.nn_bonds, c["J"], c.get("Delta", 1.0))
    elif name == "j1j2":
        # nnn bonds even at J2 = 0, so the table shapes (and the compiled step) do not depend on J2
        add_heisenberg(lat.nn_bonds, c["J1"], 1.0)
        add_heisenberg(lat.nnn_bonds, c["J2"], 1.0)
    else:  # parse_spec guards this; kept so a new model cannot fall through silently
        raise ValueError(f"unknown model {name!r}")

    exch_bonds = np.concatenate(ex_b) if ex_b else empty_bonds
    exch_coef = np.concatenate(ex_c) if ex_c else empty
    if spec.marshall_sign:
        sub = lat.sublattice
        flip_coef = flip_coef * np.where(sub[flip_sites] == 1, -1.0, 1.0)
        exch_coef = exch_coef * np.where(sub[exch_bonds[:, 0]] != sub[exch_bonds[:, 1]], -1.0, 1.0)

    return Hamiltonian(
        zz_bonds=xp.asarray(np.concatenate(zz_b) if zz_b else empty_bonds),
        zz_coef=xp.asarray(np.concatenate(zz_c) if zz_c else empty),
        flip_sites=xp.asarray(flip_sites),
        flip_coef=xp.asarray(flip_coef),
        exch_bonds=xp.asarray(exch_bonds),
        exch_coef=xp.asarray(exch_coef),
    )


def diagonal(ham: Hamiltonian, s: jnp.ndarray) -> jnp.ndarray:
    """⟨s|H|s⟩ for configurations s of shape (..., N)."""
    zz = s[..., ham.zz_bonds[:, 0]] * s[..., ham.zz_bonds[:, 1]]
    return zz @ ham.zz_coef


def connected_moves(ham: Hamiltonian) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The off-diagonal terms as moves of nqs_sweep.local_updates: sites (C, 2) and flags (C, 2).

    A single flip at i is (i, i) with (True, False); an exchange of (i, j) flips both.
    """
    flips = jnp.stack([ham.flip_sites, ham.flip_sites], axis=-1)
    sites = jnp.concatenate([flips, ham.exch_bonds.astype(flips.dtype)], axis=0)
    active = jnp.concatenate(
        [jnp.tile(jnp.array([[True, False]]), (flips.shape[0], 1)), jnp.ones(ham.exch_bonds.shape, bool)], axis=0
    )
    return sites, active


def connected_elements(ham: Hamiltonian, s: jnp.ndarray) -> jnp.ndarray:
    """⟨s'|H|s⟩ (C,) for the moves of connected_moves applied to one configuration s (N,).

    Exchanges of parallel spins have element zero: their s' leaves the sector and
    the caller must mask it.
    """
    antiparallel = (1 - s[ham.exch_bonds[:, 0]] * s[ham.exch_bonds[:, 1]]) / 2
    return jnp.concatenate([ham.flip_coef, ham.exch_coef * antiparallel])
