"""Lanczos ground states against dense diagonalisation and closed forms."""

import numpy as np
import pytest

from nqs_sweep.api import exact_table
from nqs_sweep.physics.exact import (
    MAX_EXACT_DIM,
    check_feasible,
    free_fermion_energy,
    ground_state,
    has_closed_form,
    sign_rule_bound,
)
from nqs_sweep.spec import SpecError
from reference import dense_hamiltonian

CASES = {
    # dims above 64 take the eigsh path, below it the dense one
    "tfim-chain10": dict(model={"name": "tfim", "h": 0.7}, lattice={"kind": "chain", "L": 10}),
    "xxz-chain10-sz0": dict(
        model={"name": "xxz", "Delta": 0.5}, lattice={"kind": "chain", "L": 10}, sampler={"move": "exchange"}
    ),
    "j1j2-square3-open": dict(model={"name": "j1j2", "J2": 0.5}, lattice={"kind": "square", "L": 3, "pbc": False}),
    "heisenberg-chain8-marshall": dict(model={"name": "heisenberg"}, lattice={"kind": "chain", "L": 8}, marshall_sign=True),
    "j1j2-chain10-sz0-marshall": dict(
        model={"name": "j1j2", "J2": 0.3}, lattice={"kind": "chain", "L": 10}, sampler={"move": "exchange"}, marshall_sign=True
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_lanczos_equals_dense_diagonalisation(spec_factory, case):
    spec = spec_factory(**CASES[case])
    result = ground_state(spec, keep_vector=True)
    H = dense_hamiltonian(spec)
    assert result.hilbert_dim == H.shape[0]
    assert result.energy == pytest.approx(np.linalg.eigvalsh(H)[0], abs=1e-9)
    v = result.ground_state
    np.testing.assert_allclose(H @ v, result.energy * v, atol=1e-7)


def tfim_chain_energy(n: int, h: float) -> float:
    """Periodic Ising chain (Pauli convention): E0 = -Σ_k sqrt(1 + h² - 2h cos k),
    k = ±(2m-1)π/N, the even-parity (antiperiodic fermion) sector holding the ground state."""
    k = np.pi * (2 * np.arange(n) - n + 1) / n
    return -np.sum(np.sqrt(1 + h * h - 2 * h * np.cos(k)))


@pytest.mark.parametrize("h", [0.5, 1.0, 2.0])
def test_tfim_chain_matches_free_fermion_solution(spec_factory, h):
    spec = spec_factory(model={"name": "tfim", "h": h}, lattice={"kind": "chain", "L": 14})
    assert ground_state(spec).energy == pytest.approx(tfim_chain_energy(14, h), abs=1e-9)


def test_heisenberg_4x4_matches_published_value(spec_factory):
    """E0 = -11.2284832 in S = σ/2 units (-0.7017802 per site; Schulz, Ziman & Poilblanc 1996).
    σ·σ = 4 S·S, so our Pauli-convention energy is four times that."""
    spec = spec_factory(model={"name": "heisenberg"}, lattice={"kind": "square", "L": 4}, sampler={"move": "exchange"})
    assert ground_state(spec).energy / 4 == pytest.approx(-11.2284832, abs=1e-6)


def test_limit_is_refused_before_compute(spec_factory):
    assert check_feasible(spec_factory(model={"name": "tfim"}, lattice={"kind": "chain", "L": 24})) == MAX_EXACT_DIM
    with pytest.raises(SpecError, match="lattice.L"):
        ground_state(spec_factory(model={"name": "tfim"}, lattice={"kind": "chain", "L": 25}))


@pytest.mark.parametrize("L, J, h", [(6, 1.0, 0.5), (7, 1.0, 1.3), (8, -1.0, 0.7), (10, 0.8, -2.0), (9, 1.0, 0.0)])
def test_free_fermion_energy_equals_lanczos(spec_factory, L, J, h):
    """Odd L, an antiferromagnet on an even ring, a negative field, and no field at all."""
    spec = spec_factory(model={"name": "tfim", "J": J, "h": h}, lattice={"kind": "chain", "L": L})
    assert has_closed_form(spec)
    assert free_fermion_energy(L, J, h) == pytest.approx(ground_state(spec).energy, abs=1e-9)


@pytest.mark.parametrize(
    "model, lattice",
    [
        ({"name": "tfim", "J": 1.0, "h": 1.0}, {"kind": "chain", "L": 8, "pbc": False}),  # open: not translation invariant
        ({"name": "tfim", "J": -1.0, "h": 1.0}, {"kind": "chain", "L": 7}),  # frustrated odd antiferromagnetic ring
        ({"name": "tfim", "J": 1.0, "h": 1.0}, {"kind": "square", "L": 3}),
        ({"name": "heisenberg"}, {"kind": "chain", "L": 8}),
        ({"name": "tfim", "J": 1.0, "h": 0.5}, {"kind": "chain", "L": 2}),  # one bond, not two: the formula does not hold
    ],
)
def test_no_closed_form_where_the_mapping_does_not_hold(spec_factory, model, lattice):
    assert not has_closed_form(spec_factory(model=model, lattice=lattice))


def test_exact_table_takes_free_fermions_past_lanczos(spec_factory):
    """L = 80: 2^80 states, far past Lanczos. At h = J = 1 the energy per site is
    -(2/L)/sin(π/2L) = -4/π - π/(6L²) + O(1/L⁴): the critical chain's limit and its CFT correction."""
    spec = spec_factory(model={"name": "tfim", "J": 1.0, "h": 1.0}, lattice={"kind": "chain", "L": 80})
    row = exact_table(spec).iloc[0]
    assert row["method"] == "free_fermions"
    assert row["hilbert_dim"] == float(2**80)
    assert row["exact_energy_per_site"] == pytest.approx(-4 / np.pi - np.pi / (6 * 80**2), abs=1e-7)


def test_the_sign_rule_bound_is_the_ground_energy_where_the_rule_is_exact(spec_factory):
    """The Heisenberg chain in the Marshall frame is stoquastic: its ground state is positive."""
    spec = spec_factory(
        model={"name": "heisenberg"}, lattice={"kind": "chain", "L": 10}, sampler={"move": "exchange"}, marshall_sign=True
    )
    assert sign_rule_bound(spec) == pytest.approx(ground_state(spec).energy, rel=1e-9)


@pytest.mark.parametrize(
    "raw",
    [
        # frustrated: the J2 bonds join one sublattice, the Marshall rule is wrong (E0 = -7)
        dict(model={"name": "j1j2", "J2": 1.0}, lattice={"kind": "chain", "L": 4, "pbc": False}, marshall_sign=True),
        # no rotation: the optimum sits on a corner (the Néel configurations alone)
        dict(model={"name": "xxz", "Delta": 0.5}, lattice={"kind": "chain", "L": 4}),
    ],
    ids=["j1j2-open4-marshall", "xxz-ring4-unrotated"],
)
def test_the_sign_rule_bound_equals_the_minimum_over_every_support(spec_factory, raw):
    """16 states: the minimum over non-negative vectors is, on its support S, the lowest eigenvector
    of H_SS, with positive entries; every support is enumerated."""
    from itertools import combinations

    spec = spec_factory(**raw)
    h = np.real(dense_hamiltonian(spec))
    best = np.inf
    for size in range(1, 17):
        supports = np.array(list(combinations(range(16), size)))
        # a local minimum on a face is the lowest eigenvector of its block: one batched eigh per size
        vals, vecs = np.linalg.eigh(h[supports[:, :, None], supports[:, None, :]])
        lowest = vecs[:, :, 0]
        positive = np.all(lowest > 1e-12, axis=1) | np.all(lowest < -1e-12, axis=1)
        best = min(best, vals[positive, 0].min(initial=np.inf))
    bound = sign_rule_bound(spec)
    assert bound == pytest.approx(best, abs=1e-9)
    assert bound > ground_state(spec).energy + 0.5  # the sign rule is wrong in both: the bound is above E0
