"""The one estimate path: sample -> local energies -> statistics and weights.

The VMC step, its final evaluation, the TDVP right-hand side, the t-VMC measurements and the
spectra all start from :func:`estimate` on the problem's sampler (nqs_sweep.problem). Numbers a sweep varies
(couplings, learning rate, diagonal shift) and the enumeration of the exact sampler travel in
:class:`Hyper` as traced values, so points that differ only in them share compiled code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp

from nqs_sweep.mc.estimators import local_energies
from nqs_sweep.mc.sampler import ChainState, Sample, direct_sample, exact_sample, metropolis_sample
from nqs_sweep.mc.stats import Stats, chain_stats, reweighted_chain_stats, weighted_stats
from nqs_sweep.optim.schedules import ScheduleValues, schedule_values
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.hamiltonians import Hamiltonian, build_hamiltonian
from nqs_sweep.spec import PointSpec

if TYPE_CHECKING:
    from nqs_sweep.problem import Problem


class Hyper(NamedTuple):
    ham: Hamiltonian
    learning_rate: ScheduleValues
    diag_shift: ScheduleValues
    enumeration: jax.Array  # every configuration for the exact sampler; (0, N) otherwise


def make_hyper(spec: PointSpec, dtype=jnp.float64) -> Hyper:
    n = spec.n_sites
    if spec.sampler.kind == "exact":
        enumeration = jnp.asarray(hilbert.all_states(n, spec.sector), dtype)
    else:
        enumeration = jnp.zeros((0, n), dtype)
    return Hyper(
        build_hamiltonian(spec),
        schedule_values(spec.optimizer.learning_rate),
        schedule_values(spec.optimizer.diag_shift),
        enumeration,
    )


def draw_sample(problem: Problem, theta, chains, key, hyper: Hyper, n_samples: int) -> tuple[Sample, ChainState]:
    sa, ansatz = problem.sampler, problem.ansatz
    if sa.kind == "exact":
        return exact_sample(ansatz, theta, hyper.enumeration), chains
    if sa.kind == "direct":  # no chain to carry: the chain state stays as it was
        return direct_sample(ansatz, theta, key, n_chains=sa.n_chains, n_per_chain=n_samples // sa.n_chains), chains
    bonds = hyper.ham.exch_bonds
    return metropolis_sample(
        ansatz,
        theta,
        chains,
        key,
        n_per_chain=n_samples // sa.n_chains,
        n_discard=sa.n_discard,
        sweep_size=sa.sweep_size,
        move=sa.move,
        exchange_bonds=bonds,
        power=sa.power,
    )


def sample_stats(sample: Sample, values: jax.Array) -> Stats:
    """Statistics of per-configuration values (B,): over chains (R̂, τ) for Markov-chain and
    direct samples (importance-weighted for chains of |ψ|^p, p < 2), weighted by |ψ|² for the
    enumeration."""
    if sample.weights is not None:
        return weighted_stats(values.reshape(-1), sample.weights)
    if sample.reweight is not None:
        return reweighted_chain_stats(values.reshape(sample.configs.shape[:2]), sample.reweight)
    return chain_stats(values.reshape(sample.configs.shape[:2]))


def expectation_weights(sample: Sample, size: int, dtype) -> jax.Array:
    """(B,) normalised weights of the |ψ|² expectation over the sample: the enumeration's
    probabilities, the importance weights of chains of |ψ|^p, or uniform."""
    if sample.weights is not None:
        return sample.weights
    if sample.reweight is not None:
        return sample.reweight
    return jnp.full(size, 1.0 / size, dtype)


class Estimate(NamedTuple):
    sample: Sample
    chains: ChainState  # the chains after the draw
    configs: jax.Array  # (B, N)
    e_loc: jax.Array  # (B,) local energies
    weights: jax.Array  # (B,) normalised: |ψ|² for the enumeration, importance weights for chains of |ψ|^p, else uniform
    stats: Stats  # of the energy


def estimate(problem: Problem, theta, chains, key, hyper: Hyper, n_samples: int) -> Estimate:
    """Draw n_samples configurations and evaluate the energy on them."""
    sample, chains = draw_sample(problem, theta, chains, key, hyper, n_samples)
    configs = sample.configs.reshape(-1, problem.n_sites)
    e_loc = local_energies(hyper.ham, problem.ansatz, theta, configs)
    weights = expectation_weights(sample, e_loc.size, e_loc.real.dtype)
    return Estimate(sample, chains, configs, e_loc, weights, sample_stats(sample, e_loc))
