"""One VMC optimisation step as a pure, jitted function.

``step(state, key, hyper) -> (state, metrics)``: sample, local energies,
log-derivatives, the natural-gradient (or plain) direction, the parameter update.
Static structure (the problem's ansatz, sizes, kinds) is closed over; numbers a sweep varies
(couplings, learning rate, diagonal shift) travel in ``hyper`` as traced values.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from nqs_sweep.mc.estimate import Hyper, estimate, sample_stats
from nqs_sweep.mc.estimators import centred_jacobian, clip_local_energies
from nqs_sweep.mc.jacobian import in_float64
from nqs_sweep.mc.observables import local_observables
from nqs_sweep.mc.sampler import ChainState, init_chains
from nqs_sweep.mc.stats import Stats
from nqs_sweep.optim.optimizers import OPTIMIZERS
from nqs_sweep.optim.schedules import schedule_at
from nqs_sweep.problem import Problem

__all__ = ["Evaluation", "Hyper", "VMCState", "init_state", "make_evaluate", "make_step"]


class VMCState(NamedTuple):
    theta: jax.Array
    opt_state: optax.OptState
    chains: ChainState
    iteration: jax.Array


def init_state(problem: Problem, key: jax.Array) -> VMCState:
    # One program: run op by op, the draws, the network's first pass over the chains and the
    # optimiser's state compiled one small program each, some hundred for a deep network.
    return jax.jit(lambda k: _init_state(problem, k))(key)


def _init_state(problem: Problem, key: jax.Array) -> VMCState:
    k_params, k_chains = jax.random.split(key)
    ansatz = problem.ansatz
    theta = ansatz.init(k_params)
    chains = init_chains(k_chains, ansatz, theta, problem.sampler.n_chains, problem.n_sites, problem.sector, ansatz.real_dtype)
    opt_state = OPTIMIZERS[problem.optimizer.kind].transform().init(theta)
    if problem.optimizer.momentum:  # SPRING carries the previous direction (a leaf only then: old checkpoints load)
        opt_state = (opt_state, jnp.zeros_like(theta))
    return VMCState(theta, opt_state, chains, jnp.zeros((), jnp.int64))


def spring_direction(optimizer, jac, e_t: jax.Array, previous: jax.Array, mu: float, shift: jax.Array, solver: str):
    """SPRING: φ = μ φ_prev + (S + εI)⁻¹ Õᵀ(ẽ − μ Õ φ_prev), the minimiser of |Õφ − ẽ|² + ε|φ − μ φ_prev|².

    The same solve as the plain step on a shifted right-hand side, so it holds in either space
    (NetKet's VMC_SR ``momentum``, which does it in sample space). μ = 0 is the plain step.
    """
    e_mu = e_t - mu * jac.matvec(previous)
    direction, flags = optimizer.direction(jac, e_mu, jac.rmatvec(e_mu), shift, solver)
    return direction + mu * previous, flags


def make_step(problem: Problem):
    """The jitted optimisation step for this problem's static structure."""
    opt, ansatz = problem.optimizer, problem.ansatz
    optimizer = OPTIMIZERS[opt.kind]
    transform = optimizer.transform()

    def step(state: VMCState, key: jax.Array, hyper: Hyper) -> tuple[VMCState, dict]:
        est = estimate(problem, state.theta, state.chains, key, hyper, problem.sampler.n_samples)
        stats, sample, chains = est.stats, est.sample, est.chains
        e_loc = clip_local_energies(est.e_loc, est.weights, opt.clip_local_energy) if opt.clip_local_energy else est.e_loc
        jac, e_t = centred_jacobian(ansatz, state.theta, est.configs, e_loc, est.weights, real_only=ansatz.real_output)
        if e_t.dtype == jnp.float32:  # a single-precision network: its passes stay float32, the solve not
            jac, e_t = in_float64(jac), e_t.astype(jnp.float64)
        t = state.iteration.astype(jnp.float64)
        lr = schedule_at(opt.learning_rate.kind, hyper.learning_rate, t)
        shift = schedule_at(opt.diag_shift.kind, hyper.diag_shift, t)
        force = jac.rmatvec(e_t)
        if opt.warmup:
            lr = lr * jnp.minimum(1.0, (t + 1.0) / opt.warmup)
        if opt.momentum:
            inner, previous = state.opt_state
            direction, solve_metrics = spring_direction(optimizer, jac, e_t, previous, opt.momentum, shift, opt.solver)
            direction = direction.astype(state.theta.dtype)
            update, inner = transform.update(direction, inner, state.theta)
            opt_state = (inner, direction)
        else:
            direction, solve_metrics = optimizer.direction(jac, e_t, force, shift, opt.solver)
            direction = direction.astype(state.theta.dtype)
            update, opt_state = transform.update(direction, state.opt_state, state.theta)
        metrics = {}
        if opt.trust_radius:
            # The update's Fubini-Study length, lr·|Õ u| = lr·sqrt(uᵀSu) on this step's samples:
            # a longer one (a rare configuration's huge local energy, or a near-singular S along
            # a noisy force) is scaled down to the radius instead of taken whole.
            length = lr * jnp.linalg.norm(jac.matvec(update))
            lr = lr * jnp.minimum(1.0, opt.trust_radius / jnp.maximum(length, jnp.finfo(length.dtype).tiny))
            metrics["step_length"] = length
        theta = state.theta - lr.astype(state.theta.dtype) * update

        metrics |= {
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
        } | solve_metrics
        return VMCState(theta, opt_state, chains, state.iteration + 1), metrics

    return jax.jit(step)


class Evaluation(NamedTuple):
    stats: Stats  # of the energy
    observables: dict  # name -> (mean, error) of the problem's observables, on the same configurations


def make_evaluate(problem: Problem):
    """Jitted final evaluation on a fresh, larger sample: the energy's statistics and, on the same
    configurations (one draw), the observables the problem asks for."""
    p = problem

    def evaluate(theta: jax.Array, chains: ChainState, key: jax.Array, hyper: Hyper) -> Evaluation:
        est = estimate(p, theta, chains, key, hyper, p.sampler.n_samples_eval)
        observables = {}
        if p.observables:
            values = local_observables(p.observables, p.lattice, p.marshall_sign, p.ansatz, theta, est.configs, est.e_loc)
            for name, v in values.items():
                st = sample_stats(est.sample, v)
                observables[name] = (jnp.real(st.mean), st.error)
        return Evaluation(est.stats, observables)

    return jax.jit(evaluate)
