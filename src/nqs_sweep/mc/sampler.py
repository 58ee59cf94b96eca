"""Samplers of |ψ(s)|²: Metropolis–Hastings chains in parallel, direct sampling of an
autoregressive ansatz, and full enumeration.

Metropolis chains are persistent: each call continues from the previous chain
state, discards ``n_discard`` sweeps, then keeps one sample per sweep. A sweep is
``sweep_size`` proposals (default N). Proposals are symmetric; the moves are a registry
(nqs_sweep.mc.moves): a single spin flip (local) or the swap of the two spins of a random
exchange bond (exchange, which keeps the magnetisation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from nqs_sweep.mc.local_updates import flip_context, flip_log_modulus_ratio, flipped, init_cache, refresh_cache
from nqs_sweep.mc.moves import MOVES, Move
from nqs_sweep.physics import hilbert


class ChainState(NamedTuple):
    configs: jax.Array  # (n_chains, N)
    log_psi: jax.Array  # (n_chains,) complex


class Sample(NamedTuple):
    configs: jax.Array  # (n_chains, n_per_chain, N); enumeration: (1, dim, N)
    weights: jax.Array | None  # probabilities for an enumeration; None for Markov chains
    acceptance: jax.Array
    # Markov chains of |ψ|^p, p < 2: the importance weights |ψ|^(2−p) normalised over the sample
    # (B,), which every estimate uses; None for chains of |ψ|² and for enumerations
    reweight: jax.Array | None = None


LogPsi = Callable[[jax.Array, jax.Array], jax.Array]


def init_chains(key: jax.Array, log_psi: LogPsi, theta: jax.Array, n_chains: int, n_sites: int, sector: str, dtype) -> ChainState:
    configs = hilbert.random_states(key, n_chains, n_sites, sector, dtype)
    return ChainState(configs, log_psi(theta, configs))


def _sweep_unroll() -> int:
    # A GPU pays a launch and a loop-condition round trip per iteration: unrolling 10 proposals
    # made W1's sampling 1.7x faster on an H100. On the CPU it gains nothing and costs compile time.
    return 10 if jax.default_backend() == "gpu" else 1


def _metropolis_step(log_psi: LogPsi, context, move: Move, exchange_bonds, power: float, carry, rand):
    configs, cache = carry
    idx, u = rand
    sites, active = move.propose(configs, idx, exchange_bonds)
    if move.one_site and getattr(log_psi, "single_flip_kernel", False):
        sites, active = sites[:, :1], active[:, :1]
    propose = jax.vmap(lambda s, c, i, a: flip_log_modulus_ratio(log_psi, context, s, c, i, a))
    ratio, new_cache = propose(configs, cache, sites, active)
    # Written so that a NaN ratio accepts: between two states of zero amplitude (a projected
    # network has them, log ψ = -inf) the chain must move on, not stay where ψ = 0.
    accept = ~(power * jnp.real(ratio) <= jnp.log(u))
    configs = jax.vmap(flipped)(configs, sites, active & accept[:, None])
    keep = lambda new, old: jnp.where(accept.reshape(accept.shape + (1,) * (new.ndim - 1)), new, old)  # noqa: E731
    # A swap of equal spins is a no-op; it must not count as an accepted move.
    return (configs, jax.tree.map(keep, new_cache, cache)), accept & active[:, 0]


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
    power: float = 2.0,
) -> tuple[Sample, ChainState]:
    """Draw n_per_chain samples from every chain (one per sweep) after n_discard sweeps.

    The chains sample |ψ|^power (2: the Born distribution); for power < 2 the sample carries the
    importance weights |ψ|^(2 − power), normalised, that turn its averages into |ψ|² expectations.

    Each proposal costs O(K·M) for a network with incremental kernels (the RBM) and
    one forward pass otherwise (nqs_sweep.mc.local_updates). The random numbers of a
    sweep are drawn in one call before it, so the sequential loop does only the move.
    """
    n_chains, n_sites = state.configs.shape
    proposal = MOVES[move]
    n_choices = proposal.n_choices(n_sites, exchange_bonds)
    context = flip_context(log_psi, theta)
    step = lambda carry, rand: _metropolis_step(log_psi, context, proposal, exchange_bonds, power, carry, rand)  # noqa: E731

    def sweep(carry, k):
        k_idx, k_u = jax.random.split(k)
        idx = jax.random.randint(k_idx, (sweep_size, n_chains), 0, n_choices)
        u = jax.random.uniform(k_u, (sweep_size, n_chains), dtype=jnp.real(state.log_psi).dtype)
        carry, accepted = jax.lax.scan(step, carry, (idx, u), unroll=_sweep_unroll())
        carry = (carry[0], refresh_cache(log_psi, context, *carry))
        return carry, (carry[0], jnp.mean(accepted))

    # The cache belongs to the current parameters: it is rebuilt, never carried over from a step.
    carry = (state.configs, init_cache(log_psi, theta, state.configs))
    k_discard, k_keep = jax.random.split(key)
    keys = jax.random.split(k_keep, n_per_chain)
    if n_discard > 0:
        keys = jnp.concatenate([jax.random.split(k_discard, n_discard), keys])
    # One scan over the discarded and the kept sweeps, the discarded ones' output dropped after:
    # two scans compiled the sweep twice, into programs the sampler dominates (the draw was 598 kB
    # of the step's 730 kB of HLO for the L = 6 chain's RBM). The same keys in the same order as
    # two scans, so the same chains.
    carry, (configs, acc) = jax.lax.scan(sweep, carry, keys)
    configs, acc = configs[n_discard:], acc[n_discard:]
    last = carry[0]
    configs = jnp.swapaxes(configs, 0, 1)
    reweight = None
    if power != 2.0:
        # one forward pass over the sample: the chains keep no log ψ of their samples
        log_w = (2.0 - power) * jnp.real(log_psi(theta, configs.reshape(-1, n_sites)))
        reweight = jnp.exp(log_w - jax.scipy.special.logsumexp(log_w))
    return Sample(configs, None, jnp.mean(acc), reweight), ChainState(last, log_psi(theta, last))


def exact_sample(log_psi: LogPsi, theta: jax.Array, all_configs: jax.Array) -> Sample:
    """Every configuration of the space, weighted by |ψ|² normalised."""
    lp = 2 * jnp.real(log_psi(theta, all_configs))
    weights = jnp.exp(lp - jax.scipy.special.logsumexp(lp))
    # A projected network vanishes on some states (log ψ = -inf), where local energies and
    # log-derivatives are NaN; with weight zero they count for nothing, so a state of the
    # largest weight stands in for them and every estimator stays finite.
    configs = jnp.where((weights > 0)[:, None], all_configs, all_configs[jnp.argmax(weights)])
    return Sample(configs[None], weights, jnp.ones((), weights.dtype))


def direct_sample(ansatz, theta: jax.Array, key: jax.Array, *, n_chains: int, n_per_chain: int, cached: bool = True) -> Sample:
    """Exact, independent samples of an autoregressive ansatz, drawn site by site.

    Site i is +1 when u_i < p_i(+1 | s_<i), with u uniform. The network's own draw
    (``draw_tree``: cached layers, about one forward pass in all) is used when it has one
    and ``cached``; otherwise one forward pass per site on the partly drawn batch, whose
    undrawn sites are 0 and, by the masks, unseen. Both give the same samples for the
    same key (tests/test_arnn.py). No chain, no burn-in, no autocorrelation: the samples
    are returned as n_chains rows only so that R̂ and τ_corr are measured as for Markov
    chains (and come out ≈ 1 and ≈ 0).
    """
    if not getattr(ansatz, "is_autoregressive", False):
        name = getattr(ansatz, "name", ansatz)
        raise ValueError(f"direct sampling needs an autoregressive ansatz (arnn, arnn_conv); got {name!r}")
    tree = ansatz.to_tree(theta)
    n_sites = ansatz.n_sites
    batch = n_chains * n_per_chain
    u = jax.random.uniform(key, (n_sites, batch), dtype=ansatz.real_dtype)
    if cached and ansatz.draw_tree is not None:
        configs = ansatz.draw_tree(tree, u)
    else:

        def draw_site(i, s):
            log_p_up = 2 * jnp.real(ansatz.conditionals_tree(tree, s)[:, i, 0])
            return s.at[:, i].set(jnp.where(jnp.log(u[i]) < log_p_up, 1.0, -1.0).astype(s.dtype))

        configs = jax.lax.fori_loop(0, n_sites, draw_site, jnp.zeros((batch, n_sites), ansatz.real_dtype))
    return Sample(configs.reshape(n_chains, n_per_chain, n_sites), None, jnp.ones((), ansatz.real_dtype))
