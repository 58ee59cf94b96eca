"""Samplers of |ψ(s)|²: Metropolis–Hastings chains in parallel, and full enumeration.

Metropolis chains are persistent: each call continues from the previous chain
state, discards ``n_discard`` sweeps, then keeps one sample per sweep. A sweep is
``sweep_size`` proposals (default N). Proposals are symmetric: a single spin flip
(local) or the swap of the two spins of a random exchange bond (exchange, which
keeps the magnetisation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from nqs_sweep import hilbert


class ChainState(NamedTuple):
    configs: jax.Array  # (n_chains, N)
    log_psi: jax.Array  # (n_chains,) complex


class Sample(NamedTuple):
    configs: jax.Array  # (n_chains, n_per_chain, N); enumeration: (1, dim, N)
    weights: jax.Array | None  # probabilities for an enumeration; None for Markov chains
    acceptance: jax.Array


LogPsi = Callable[[jax.Array, jax.Array], jax.Array]


def init_chains(key: jax.Array, log_psi: LogPsi, theta: jax.Array, n_chains: int, n_sites: int, sector: str, dtype) -> ChainState:
    configs = hilbert.random_states(key, n_chains, n_sites, sector, dtype)
    return ChainState(configs, log_psi(theta, configs))


def _propose(key: jax.Array, configs: jax.Array, move: str, exchange_bonds: jax.Array) -> jax.Array:
    n_chains, n_sites = configs.shape
    if move == "local":
        sites = jax.random.randint(key, (n_chains,), 0, n_sites)
        flip = jax.nn.one_hot(sites, n_sites, dtype=configs.dtype)
    else:
        bonds = exchange_bonds[jax.random.randint(key, (n_chains,), 0, exchange_bonds.shape[0])]
        flip = jax.nn.one_hot(bonds[:, 0], n_sites, dtype=configs.dtype) + jax.nn.one_hot(
            bonds[:, 1], n_sites, dtype=configs.dtype
        )
        # Swapping equal spins changes nothing; a swap of unequal spins flips both.
        flip = flip * (configs[jnp.arange(n_chains), bonds[:, 0]] != configs[jnp.arange(n_chains), bonds[:, 1]])[:, None]
    return configs * (1 - 2 * flip)


def _metropolis_step(log_psi: LogPsi, theta, move: str, exchange_bonds, state: ChainState, key) -> tuple[ChainState, jax.Array]:
    k_prop, k_acc = jax.random.split(key)
    proposed = _propose(k_prop, state.configs, move, exchange_bonds)
    log_psi_new = log_psi(theta, proposed)
    log_ratio = 2 * jnp.real(log_psi_new - state.log_psi)
    u = jax.random.uniform(k_acc, log_ratio.shape, dtype=log_ratio.dtype)
    accept = jnp.log(u) < log_ratio
    configs = jnp.where(accept[:, None], proposed, state.configs)
    # A swap of equal spins is a no-op; it must not count as an accepted move.
    moved = accept & jnp.any(proposed != state.configs, axis=-1)
    return ChainState(configs, jnp.where(accept, log_psi_new, state.log_psi)), moved


def metropolis_sample(
    log_psi: LogPsi,
    theta: jax.Array,
    state: ChainState,
    key: jax.Array,
    *,
    n_per_chain: int,
    n_discard: int,
    sweep_size: int,
    move: str,
    exchange_bonds: jax.Array,
) -> tuple[Sample, ChainState]:
    """Draw n_per_chain samples from every chain (one per sweep) after n_discard sweeps."""
    # The cached log ψ belongs to the previous parameters: refresh it.
    state = ChainState(state.configs, log_psi(theta, state.configs))
    step = lambda st, k: _metropolis_step(log_psi, theta, move, exchange_bonds, st, k)  # noqa: E731

    def sweep(st, k):
        st, accepted = jax.lax.scan(step, st, jax.random.split(k, sweep_size))
        return st, (st.configs, jnp.mean(accepted))

    k_discard, k_keep = jax.random.split(key)
    if n_discard > 0:
        state, _ = jax.lax.scan(sweep, state, jax.random.split(k_discard, n_discard))
    state, (configs, acc) = jax.lax.scan(sweep, state, jax.random.split(k_keep, n_per_chain))
    return Sample(jnp.swapaxes(configs, 0, 1), None, jnp.mean(acc)), state


def exact_sample(log_psi: LogPsi, theta: jax.Array, all_configs: jax.Array) -> Sample:
    """Every configuration of the space, weighted by |ψ|² normalised."""
    lp = 2 * jnp.real(log_psi(theta, all_configs))
    weights = jnp.exp(lp - jax.scipy.special.logsumexp(lp))
    return Sample(all_configs[None], weights, jnp.ones((), weights.dtype))
