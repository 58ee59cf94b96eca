"""Metropolis moves: the registry the spec's ``sampler.move`` names.

A move proposes, for each chain, a configuration that differs from the current one by the
spins it flips, written as a pair of sites and a pair of flags (nqs_sweep.mc.local_updates):
(i, i) with (True, False) flips site i, (i, j) with (True, True) flips both. Proposals must be
symmetric (the acceptance is |ψ(s')/ψ(s)|²) and stay in the Hilbert sector the move names,
which is also the sector a spec gets by default when it names the move.

Adding a move is one ``register_move(Move(...))``, here or in a researcher's module before
specs are parsed; the spec parser, the sampler and the study expansion read this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from nqs_sweep import registry


@dataclass(frozen=True)
class Move:
    name: str
    # (configs (C, N), choice (C,) ints in [0, n_choices), exchange_bonds (E, 2)) -> (sites (C, 2), active (C, 2))
    propose: Callable[[jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]
    # (n_sites, exchange_bonds) -> how many proposals the uniform random choice ranges over
    n_choices: Callable[[int, jax.Array], int]
    sector: str  # the Hilbert sector the move keeps (nqs_sweep.physics.hilbert)
    description: str
    # Every proposal flips its first site only (the second is inactive): a kernel that takes moves
    # of one site (Ansatz.single_flip_kernel) then gets them without the second.
    one_site: bool = False


MOVES: dict[str, Move] = {}


def register_move(move: Move) -> Move:
    return registry.add(MOVES, move, "move")


def move_for_sector(sector: str) -> str:
    """The first registered move that keeps this sector (a diagnostic's or a reference's default)."""
    for name, move in MOVES.items():
        if move.sector == sector:
            return name
    raise ValueError(f"no registered Metropolis move keeps the sector {sector!r}")


def _single_flip(configs: jax.Array, choice: jax.Array, exchange_bonds: jax.Array):
    sites = jnp.stack([choice, choice], axis=-1)
    return sites, jnp.broadcast_to(jnp.array([True, False]), sites.shape)


def _exchange(configs: jax.Array, choice: jax.Array, exchange_bonds: jax.Array):
    sites = exchange_bonds[choice]
    # Swapping equal spins changes nothing; a swap of unequal spins flips both.
    rows = jnp.arange(configs.shape[0])
    differ = configs[rows, sites[:, 0]] != configs[rows, sites[:, 1]]
    return sites, jnp.stack([differ, differ], axis=-1)


register_move(
    Move(
        "local",
        _single_flip,
        lambda n_sites, bonds: n_sites,
        "full",
        "flip one spin, chosen uniformly (all magnetisations)",
        one_site=True,
    )
)
register_move(
    Move(
        "exchange",
        _exchange,
        lambda n_sites, bonds: bonds.shape[0],
        "zero_magnetization",
        "swap the two spins of a random exchange bond of the Hamiltonian (keeps the magnetisation)",
    )
)
