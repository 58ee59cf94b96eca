"""Exact dynamics: Krylov propagation against dense matrix exponentials, exact observables."""

import numpy as np
import pytest
import scipy.linalg
from tests.reference import dense_hamiltonian

from nqs_sweep.physics import hilbert
from nqs_sweep.physics.exact_dynamics import exact_trajectory, initial_vector, krylov_propagate
from nqs_sweep.quench import parse_quench


def quench(model, lattice, initial, observables, kind="real", **extra):
    return parse_quench(
        {
            "model": model,
            "lattice": lattice,
            "ansatz": {"name": "rbm", "alpha": 1, "dtype": "complex128"},
            "initial": initial,
            "dynamics": {"kind": kind, "t_final": 1.0, "dt": 0.05, "save_every": 0.25, "observables": observables},
            **extra,
        }
    )


@pytest.mark.parametrize("kind", ["real", "imaginary"])
def test_krylov_propagation_equals_the_dense_exponential(kind):
    q = quench({"name": "tfim", "h": 0.8}, {"kind": "chain", "L": 8}, {"kind": "product", "direction": "x"}, ["sx"])
    h = dense_hamiltonian(q.point)
    v0 = np.random.default_rng(1).normal(size=256) + 1j * np.random.default_rng(2).normal(size=256)
    v0 /= np.linalg.norm(v0)
    tau = 1.7  # long enough that the propagator must split the step
    got = krylov_propagate(lambda x: h @ x, v0, tau, kind, m=12)
    want = scipy.linalg.expm((-1j if kind == "real" else -1.0) * tau * h) @ v0
    want /= np.linalg.norm(want)
    np.testing.assert_allclose(got, want, atol=1e-10)


def dense_observables(q, v):
    n = q.n_sites
    states = hilbert.all_states(n, q.point.sector).astype(float)
    p = np.abs(v) ** 2
    out = {"sz": p @ states.mean(1), "energy": np.vdot(v, dense_hamiltonian(q.point) @ v).real}
    bonds = [(i, (i + 1) % n) for i in range(n)]
    out["zz_nn"] = p @ np.mean([states[:, i] * states[:, j] for i, j in bonds], axis=0)
    if q.point.sector == "full":
        x = np.array([[0, 1], [1, 0]])
        sx = sum(np.kron(np.kron(np.eye(2**i), x), np.eye(2 ** (n - i - 1))) for i in range(n)) / n
        out["sx"] = np.vdot(v, sx @ v).real
    return out


def test_trajectory_of_a_tfim_quench_from_the_x_state():
    all_observables = ["sx", "sz", "zz_nn", "energy"]
    q = quench({"name": "tfim", "h": 0.5}, {"kind": "chain", "L": 8}, {"kind": "product", "direction": "x"}, all_observables)
    times = q.dynamics.save_times()
    rows, _ = exact_trajectory(q, times)
    h = dense_hamiltonian(q.point)
    v0 = initial_vector(q)
    for t, row in zip(times, rows):
        v = scipy.linalg.expm(-1j * t * h) @ v0
        for name, value in dense_observables(q, v).items():
            assert row[name] == pytest.approx(value, abs=1e-10), (t, name)
    assert rows[0]["sx"] == pytest.approx(1.0) and rows[-1]["sx"] < 0.99  # it moves
    assert max(abs(r["energy"] - rows[0]["energy"]) for r in rows) < 1e-10  # and conserves energy


def test_heisenberg_sector_quench_from_a_ground_state_with_marshall_signs():
    q = quench(
        {"name": "heisenberg"},
        {"kind": "chain", "L": 8},
        {"kind": "ground_state", "model": {"name": "xxz", "Delta": 3.0}},
        ["sz", "zz_nn", "energy"],
        sampler={"move": "exchange"},
        marshall_sign=True,
    )
    rows, _ = exact_trajectory(q, q.dynamics.save_times())
    h = dense_hamiltonian(q.point)
    v0 = initial_vector(q)
    assert np.linalg.norm(v0) == pytest.approx(1.0) and v0.size == 70
    for t, row in zip(q.dynamics.save_times(), rows):
        v = scipy.linalg.expm(-1j * t * h) @ v0
        for name, value in dense_observables(q, v).items():
            assert row[name] == pytest.approx(value, abs=1e-10), (t, name)
    assert rows[0]["zz_nn"] != pytest.approx(rows[-1]["zz_nn"], abs=1e-3)
