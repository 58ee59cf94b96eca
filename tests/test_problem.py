"""The Problem built once from a spec, and the registry of Metropolis moves it samples with."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nqs_sweep
from nqs_sweep.mc.estimate import estimate
from nqs_sweep.mc.estimators import local_energies
from nqs_sweep.mc.moves import MOVES, Move, move_for_sector, register_move
from nqs_sweep.mc.sampler import exact_sample, init_chains
from nqs_sweep.physics import hilbert
from nqs_sweep.problem import build_problem, projected_problem
from nqs_sweep.spec import SpecError, parse_spec

TFIM = {
    "model": {"name": "tfim", "J": 1.0, "h": 0.8},
    "lattice": {"kind": "chain", "L": 8},
    "ansatz": {"name": "rbm", "alpha": 1, "dtype": "float64"},
    "sampler": {"kind": "metropolis", "n_samples": 4096, "n_chains": 32, "n_discard": 50},
    "optimizer": {"kind": "sr", "learning_rate": 0.05, "diag_shift": 0.01, "n_iter": 3},
}


def test_the_problem_holds_what_the_spec_defines():
    spec = parse_spec({**TFIM, "observables": ["sx"]})
    problem = build_problem(spec)
    assert problem.n_sites == 8 and problem.sector == "full" and not problem.marshall_sign
    assert problem.sampler == spec.sampler and problem.optimizer == spec.optimizer
    assert problem.observables == ("sx",) and problem.ansatz.name == "rbm"
    # the traced inputs carry the couplings: the field's coefficient is h on every site
    np.testing.assert_allclose(np.asarray(problem.hamiltonian.flip_coef), -0.8 * np.ones(8))
    metropolis = problem.with_sampler(kind="exact")
    assert metropolis.sampler.kind == "exact" and problem.sampler.kind == "metropolis"
    assert metropolis.ansatz is problem.ansatz
    assert nqs_sweep.build_problem is build_problem


def test_the_projected_problem_changes_only_the_network():
    spec = parse_spec(
        {
            **TFIM,
            "model": {"name": "heisenberg"},
            "lattice": {"kind": "chain", "L": 6},
            "sampler": {"kind": "exact"},
            "marshall_sign": True,
            "symmetry": {"momentum": 0, "project": "final", "final_steps": 1},
        }
    )
    problem = build_problem(spec)
    projected = projected_problem(spec, problem)
    assert projected.ansatz is not problem.ansatz and projected.hyper is problem.hyper
    assert dataclasses.replace(projected, ansatz=problem.ansatz).sampler == problem.sampler


def _one_or_two_flips(configs, choice, bonds):
    # choice < N flips site choice; N <= choice < 2N flips choice - N and its right neighbour:
    # symmetric (each proposal is its own reverse) and ergodic on the full space.
    n = configs.shape[1]
    first = choice % n
    sites = jnp.stack([first, (first + 1) % n], axis=-1)
    return sites, jnp.stack([jnp.ones_like(choice, bool), choice >= n], axis=-1)


@pytest.fixture
def one_or_two():
    move = register_move(Move("one_or_two", _one_or_two_flips, lambda n, bonds: 2 * n, "full", "one spin or a pair"))
    yield move
    MOVES.pop(move.name)


def test_a_registered_move_samples_psi_squared(one_or_two):
    spec = parse_spec({**TFIM, "sampler": {**TFIM["sampler"], "move": "one_or_two"}})
    assert spec.sampler.move == "one_or_two" and spec.sector == "full"
    problem = build_problem(spec)
    ansatz = problem.ansatz
    theta = 0.3 * jax.random.normal(jax.random.key(3), (ansatz.n_real_params,))
    chains = init_chains(jax.random.key(1), ansatz, theta, 32, 8, "full", jnp.float64)
    est = estimate(problem, theta, chains, jax.random.key(2), problem.hyper, spec.sampler.n_samples)
    states = jnp.asarray(hilbert.all_states(8, "full"), jnp.float64)
    weights = exact_sample(ansatz.log_psi, theta, states).weights
    exact = float(jnp.real(jnp.sum(weights * local_energies(problem.hamiltonian, ansatz, theta, states))))
    assert abs(float(jnp.real(est.stats.mean)) - exact) < 4 * float(est.stats.error)
    assert 0 < float(est.sample.acceptance) <= 1


def test_the_sector_a_move_keeps_is_the_default_and_a_mismatch_is_refused(one_or_two):
    assert move_for_sector("full") == "local" and move_for_sector("zero_magnetization") == "exchange"
    heis = {**TFIM, "model": {"name": "heisenberg"}}
    assert parse_spec({**heis, "sampler": {"move": "exchange"}}).sector == "zero_magnetization"
    with pytest.raises(SpecError) as err:
        parse_spec({**heis, "sampler": {"move": "one_or_two"}, "hilbert": {"sector": "zero_magnetization"}})
    assert err.value.field == "sampler.move" and "one_or_two moves stay in hilbert.sector: full" in str(err.value)
    with pytest.raises(SpecError) as err:
        parse_spec({**TFIM, "sampler": {"move": "cluster"}})
    assert err.value.field == "sampler.move" and "one_or_two" in str(err.value) and "exchange" in str(err.value)
    with pytest.raises(ValueError, match="already registered"):
        register_move(Move("local", _one_or_two_flips, lambda n, bonds: n, "full", "another local"))
