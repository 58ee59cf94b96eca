"""One VMC optimisation step as a pure, jitted function.

``step(state, key, hyper) -> (state, metrics)``: sample, local energies,
log-derivatives, the natural-gradient (or plain) direction, the parameter update.
Static structure (ansatz, sizes, kinds) is closed over; numbers a sweep varies
(couplings, learning rate, diagonal shift) travel in ``hyper`` as traced values.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from nqs_sweep.estimators import centred_jacobian, local_energies
from nqs_sweep.models import Ansatz
from nqs_sweep.optimizers import OPTIMIZERS
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.hamiltonians import Hamiltonian, build_hamiltonian
from nqs_sweep.sampler import ChainState, Sample, direct_sample, exact_sample, init_chains, metropolis_sample
from nqs_sweep.schedules import ScheduleValues, schedule_at, schedule_values
from nqs_sweep.spec import PointSpec
from nqs_sweep.stats import Stats, chain_stats, weighted_stats


class VMCState(NamedTuple):
    theta: jax.Array
    opt_state: optax.OptState
    chains: ChainState
    iteration: jax.Array


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


def _transform(spec: PointSpec) -> optax.GradientTransformation:
    return OPTIMIZERS[spec.optimizer.kind].transform()


def init_state(spec: PointSpec, ansatz: Ansatz, key: jax.Array) -> VMCState:
    k_params, k_chains = jax.random.split(key)
    theta = ansatz.init(k_params)
    chains = init_chains(k_chains, ansatz, theta, spec.sampler.n_chains, spec.n_sites, spec.sector, ansatz.real_dtype)
    return VMCState(theta, _transform(spec).init(theta), chains, jnp.zeros((), jnp.int64))


def draw_sample(spec: PointSpec, ansatz: Ansatz, theta, chains, key, hyper: Hyper, n_samples: int) -> tuple[Sample, ChainState]:
    sa = spec.sampler
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
    )


def _energy_stats(sample: Sample, e_loc: jax.Array) -> Stats:
    if sample.weights is None:
        return chain_stats(e_loc)
    return weighted_stats(e_loc.reshape(-1), sample.weights)


def make_step(spec: PointSpec, ansatz: Ansatz):
    """The jitted optimisation step for this spec's static structure."""
    opt = spec.optimizer
    optimizer = OPTIMIZERS[opt.kind]
    transform = optimizer.transform()

    def step(state: VMCState, key: jax.Array, hyper: Hyper) -> tuple[VMCState, dict]:
        sample, chains = draw_sample(spec, ansatz, state.theta, state.chains, key, hyper, spec.sampler.n_samples)
        configs = sample.configs.reshape(-1, spec.n_sites)
        e_loc = local_energies(hyper.ham, ansatz, state.theta, configs)
        stats = _energy_stats(sample, e_loc.reshape(sample.configs.shape[:2]))
        weights = sample.weights if sample.weights is not None else jnp.full(e_loc.shape, 1.0 / e_loc.size, e_loc.real.dtype)

        jac, e_t = centred_jacobian(ansatz, state.theta, configs, e_loc, weights, real_only=ansatz.real_output)
        t = state.iteration.astype(jnp.float64)
        lr = schedule_at(opt.learning_rate.kind, hyper.learning_rate, t)
        shift = schedule_at(opt.diag_shift.kind, hyper.diag_shift, t)
        force = jac.rmatvec(e_t)
        direction, fell_back = optimizer.direction(jac, e_t, force, shift, opt.solver)
        update, opt_state = transform.update(direction, state.opt_state, state.theta)
        theta = state.theta - lr.astype(state.theta.dtype) * update

        metrics = {
            "energy": jnp.real(stats.mean),
            "energy_imag": jnp.imag(stats.mean),
            "energy_error": stats.error,
            "energy_error_naive": stats.error_naive,
            "variance": stats.variance,
            "r_hat": stats.r_hat,
            "tau_corr": stats.tau_corr,
            "acceptance": sample.acceptance,
            "learning_rate": lr,
            "diag_shift": shift,
            "grad_norm": jnp.linalg.norm(2 * force),
            "solver_fallback": fell_back,
        }
        return VMCState(theta, opt_state, chains, state.iteration + 1), metrics

    return jax.jit(step)


def make_evaluate(spec: PointSpec, ansatz: Ansatz):
    """Jitted final evaluation: energy statistics on a fresh, larger sample."""

    def evaluate(theta: jax.Array, chains: ChainState, key: jax.Array, hyper: Hyper) -> Stats:
        sample, _ = draw_sample(spec, ansatz, theta, chains, key, hyper, spec.sampler.n_samples_eval)
        configs = sample.configs.reshape(-1, spec.n_sites)
        e_loc = local_energies(hyper.ham, ansatz, theta, configs)
        return _energy_stats(sample, e_loc.reshape(sample.configs.shape[:2]))

    return jax.jit(evaluate)
