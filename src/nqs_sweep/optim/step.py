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

from nqs_sweep.mc.estimate import Hyper, estimate, make_hyper, sample_stats
from nqs_sweep.mc.estimators import centred_jacobian
from nqs_sweep.mc.observables import local_observables
from nqs_sweep.mc.sampler import ChainState, init_chains
from nqs_sweep.mc.stats import Stats
from nqs_sweep.models import Ansatz
from nqs_sweep.optim.optimizers import OPTIMIZERS
from nqs_sweep.optim.schedules import schedule_at
from nqs_sweep.spec import PointSpec

__all__ = ["Evaluation", "Hyper", "VMCState", "init_state", "make_evaluate", "make_hyper", "make_step"]


class VMCState(NamedTuple):
    theta: jax.Array
    opt_state: optax.OptState
    chains: ChainState
    iteration: jax.Array


def _transform(spec: PointSpec) -> optax.GradientTransformation:
    return OPTIMIZERS[spec.optimizer.kind].transform()


def init_state(spec: PointSpec, ansatz: Ansatz, key: jax.Array) -> VMCState:
    k_params, k_chains = jax.random.split(key)
    theta = ansatz.init(k_params)
    chains = init_chains(k_chains, ansatz, theta, spec.sampler.n_chains, spec.n_sites, spec.sector, ansatz.real_dtype)
    return VMCState(theta, _transform(spec).init(theta), chains, jnp.zeros((), jnp.int64))


def make_step(spec: PointSpec, ansatz: Ansatz):
    """The jitted optimisation step for this spec's static structure."""
    opt = spec.optimizer
    optimizer = OPTIMIZERS[opt.kind]
    transform = optimizer.transform()

    def step(state: VMCState, key: jax.Array, hyper: Hyper) -> tuple[VMCState, dict]:
        est = estimate(spec, ansatz, state.theta, state.chains, key, hyper, spec.sampler.n_samples)
        stats, sample, chains = est.stats, est.sample, est.chains
        jac, e_t = centred_jacobian(ansatz, state.theta, est.configs, est.e_loc, est.weights, real_only=ansatz.real_output)
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


class Evaluation(NamedTuple):
    stats: Stats  # of the energy
    observables: dict  # name -> (mean, error) of spec.observables, on the same configurations


def make_evaluate(spec: PointSpec, ansatz: Ansatz):
    """Jitted final evaluation on a fresh, larger sample: the energy's statistics and, on the same
    configurations (one draw), the observables the spec asks for."""
    lattice = spec.lattice.build()

    def evaluate(theta: jax.Array, chains: ChainState, key: jax.Array, hyper: Hyper) -> Evaluation:
        est = estimate(spec, ansatz, theta, chains, key, hyper, spec.sampler.n_samples_eval)
        observables = {}
        if spec.observables:
            values = local_observables(spec.observables, lattice, spec.marshall_sign, ansatz, theta, est.configs, est.e_loc)
            for name, v in values.items():
                st = sample_stats(est.sample, v)
                observables[name] = (jnp.real(st.mean), st.error)
        return Evaluation(est.stats, observables)

    return jax.jit(evaluate)
