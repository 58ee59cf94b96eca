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

Each model registers its couplings and terms (``register_model``); a new one is its own
registration, in this file or the researcher's.

The Hamiltonian is a pytree: couplings are traced values, so a sweep over them
does not recompile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import jax.numpy as jnp
import numpy as np

from nqs_sweep import registry
from nqs_sweep.physics.lattice import Lattice

if TYPE_CHECKING:
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


@dataclass(frozen=True)
class Terms:
    """A model's terms on a lattice, before the sign rule: σᶻσᶻ bonds, single flips (σˣ) and
    antiparallel-pair exchanges (σˣσˣ + σʸσʸ), each with its coefficient."""

    zz: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    flips: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    exchanges: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def heisenberg(self, bonds: np.ndarray, J: float, delta: float = 1.0) -> Terms:
        """J (σˣσˣ + σʸσʸ + Δ σᶻσᶻ) on every bond."""
        self.zz.append((bonds, np.full(len(bonds), J * delta)))
        self.exchanges.append((bonds, np.full(len(bonds), 2.0 * J)))
        return self


@dataclass(frozen=True)
class Model:
    """One registered Hamiltonian: its couplings with their defaults, and its terms on a lattice.

    ``conserves_magnetization``: the zero-magnetisation sector (and exchange moves) apply;
    ``sign_rule``: the Marshall sign rule (marshall_sign: true) applies;
    ``spin_flip_symmetric``: H commutes with flipping every spin (symmetry.spin_flip applies).
    """

    name: str
    couplings: dict[str, float]
    terms: Callable[[Lattice, dict[str, float]], Terms]
    description: str
    conserves_magnetization: bool = True
    sign_rule: bool = True
    spin_flip_symmetric: bool = True


MODELS: dict[str, Model] = {}


def register_model(model: Model) -> Model:
    """Add a Hamiltonian under its name; the spec parser, the exact solver and the tables read it."""
    return registry.add(MODELS, model, "model")


def _tfim(lat: Lattice, c: dict[str, float]) -> Terms:
    t = Terms()
    t.zz.append((lat.nn_bonds, np.full(len(lat.nn_bonds), -c["J"])))
    t.flips.append((np.arange(lat.n_sites, dtype=np.int32), np.full(lat.n_sites, -c["h"])))
    return t


def _j1j2(lat: Lattice, c: dict[str, float]) -> Terms:
    # nnn bonds even at J2 = 0, so the table shapes (and the compiled step) do not depend on J2
    return Terms().heisenberg(lat.nn_bonds, c["J1"]).heisenberg(lat.nnn_bonds, c["J2"])


register_model(Model("tfim", {"J": 1.0, "h": 1.0}, _tfim, "-J Σ σᶻσᶻ - h Σ σˣ", conserves_magnetization=False, sign_rule=False))
register_model(
    Model(
        "xxz",
        {"J": 1.0, "Delta": 1.0},
        lambda lat, c: Terms().heisenberg(lat.nn_bonds, c["J"], c["Delta"]),
        "J Σ (σˣσˣ + σʸσʸ + Δ σᶻσᶻ)",
    )
)
register_model(Model("heisenberg", {"J": 1.0}, lambda lat, c: Terms().heisenberg(lat.nn_bonds, c["J"]), "J Σ σ·σ"))
register_model(Model("j1j2", {"J1": 1.0, "J2": 0.5}, _j1j2, "J1 Σ⟨ij⟩ σ·σ + J2 Σ⟨⟨ij⟩⟩ σ·σ"))


def _stack(parts: list[tuple[np.ndarray, np.ndarray]], width: int) -> tuple[np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros((0, 2) if width == 2 else (0,), np.int32), np.zeros((0,), np.float64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([np.asarray(p[1], np.float64) for p in parts])


def build_hamiltonian(spec: PointSpec, xp=jnp) -> Hamiltonian:
    """Bond tables for the spec's model on its lattice (``xp=np`` for the exact solver)."""
    return hamiltonian_tables(spec.model.name, dict(spec.model.couplings), spec.lattice.build(), spec.marshall_sign, xp)


def hamiltonian_tables(name: str, couplings: dict[str, float], lat: Lattice, marshall_sign: bool, xp=jnp) -> Hamiltonian:
    """Bond tables of a registered model on a lattice, with the sign rule folded in where asked."""
    terms = MODELS[name].terms(lat, couplings)
    zz_bonds, zz_coef = _stack(terms.zz, 2)
    flip_sites, flip_coef = _stack(terms.flips, 1)
    exch_bonds, exch_coef = _stack(terms.exchanges, 2)
    if marshall_sign:
        sub = lat.sublattice
        flip_coef = flip_coef * np.where(sub[flip_sites] == 1, -1.0, 1.0)
        exch_coef = exch_coef * np.where(sub[exch_bonds[:, 0]] != sub[exch_bonds[:, 1]], -1.0, 1.0)

    return Hamiltonian(
        zz_bonds=xp.asarray(zz_bonds),
        zz_coef=xp.asarray(zz_coef),
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
    """The off-diagonal terms as moves of nqs_sweep.mc.local_updates: sites (C, 2) and flags (C, 2).

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
