"""The TDVP right-hand side against dense state-vector projections, and its regularisers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tests.reference import dense_hamiltonian

from nqs_sweep.dynamics.tdvp import make_rhs, regularised_direction
from nqs_sweep.mc.estimators import log_derivatives
from nqs_sweep.mc.sampler import init_chains
from nqs_sweep.models import make_ansatz
from nqs_sweep.physics import hilbert
from nqs_sweep.problem import build_problem
from nqs_sweep.quench import Regularization, parse_quench

# Fewer real parameters than real Hilbert-space dimensions, so S has no spurious near-null
# directions whose eigenvalues (accurate only to ε λ_max) would limit the comparison.
CASES = {
    "tfim-chain6": {"model": {"name": "tfim", "h": 0.7}, "lattice": {"kind": "chain", "L": 6}},
    "heisenberg-chain8-sz0-marshall": {
        "model": {"name": "heisenberg"},
        "lattice": {"kind": "chain", "L": 8},
        "ansatz": {"name": "rbm", "alpha": 0.5, "dtype": "complex128"},
        "sampler": {"kind": "exact", "move": "exchange"},
        "marshall_sign": True,
    },
    "j1j2-chain7-open": {"model": {"name": "j1j2", "J2": 0.4}, "lattice": {"kind": "chain", "L": 7, "pbc": False}},
}


def quench(case: str, kind: str, reg: dict, alpha: float = 1.0):
    raw = {
        "ansatz": {"name": "rbm", "alpha": alpha, "dtype": "complex128"},
        "sampler": {"kind": "exact"},
        **CASES[case],
        "initial": {"kind": "product", "direction": "x"} if not CASES[case].get("marshall_sign") else None,
        "dynamics": {"kind": kind, "t_final": 1.0, "dt": 0.1, "regularization": reg, "observables": ["energy"]},
    }
    raw["sampler"] = {**raw["sampler"], "kind": "exact"}
    if raw["initial"] is None:
        raw["initial"] = {"kind": "ground_state", "model": {"name": raw["model"]["name"]}}
    return parse_quench(raw)


def dense_tangent(q, ansatz, theta):
    """Real form of the tangent vectors P ∂φ/∂θ_k (φ normalised, P projects out φ)."""
    return _dense(q, ansatz, theta, "real")[0]


def dense_tdvp(q, ansatz, theta, kind):
    _, theta_dot, residual, sv = _dense(q, ansatz, theta, kind)
    return theta_dot, residual, sv


def _dense(q, ansatz, theta, kind):
    """Least-squares θ̇ of the projected equation, from dense vectors: min ‖P(J θ̇ − g)‖, P = 1 − φφ†."""
    spec = q.point
    states = jnp.asarray(hilbert.all_states(spec.n_sites, spec.sector), jnp.float64)
    h = dense_hamiltonian(spec)
    psi = np.exp(np.asarray(ansatz.log_psi(theta, states)))
    norm = np.linalg.norm(psi)
    phi = psi / norm
    jac = np.asarray(log_derivatives(ansatz.log_psi, theta, states)) * phi[:, None]  # ∂φ/∂θ before normalising
    target = -1j * (h @ phi) if kind == "real" else -(h @ phi)
    proj = lambda v: v - np.outer(phi, phi.conj() @ v) if v.ndim == 2 else v - phi * (phi.conj() @ v)  # noqa: E731
    a, g = proj(jac), proj(target)
    a_real = np.concatenate([a.real, a.imag])
    g_real = np.concatenate([g.real, g.imag])
    theta_dot = np.linalg.lstsq(a_real, g_real, rcond=1e-8)[0]
    residual = np.sum((a_real @ theta_dot - g_real) ** 2) / np.sum(g_real**2)
    return a_real, theta_dot, residual, np.linalg.svd(a_real, compute_uv=False)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", ["real", "imaginary"])
def test_rhs_equals_dense_projection_of_minus_i_h_psi(case, kind):
    q = quench(case, kind, {"kind": "pinv", "rcond": 1e-14})
    ansatz = make_ansatz(q.point)
    theta = 0.3 * jax.random.normal(jax.random.key(3), (ansatz.n_real_params,))
    hyper = build_problem(q.point, ansatz).hyper
    chains = init_chains(jax.random.key(0), ansatz.log_psi, theta, 1, q.n_sites, q.point.sector, jnp.float64)
    ref, ref_residual, sv = dense_tdvp(q, ansatz, theta, kind)
    # The minimum-norm least-squares solution: exact null directions of S (in the sector, the
    # visible bias couples to Σ s = 0) are dropped by both, everything else is kept.
    n_null = int(np.sum(sv < 1e-8 * sv.max()))
    assert np.all((sv < 1e-12 * sv.max()) | (sv > 1e-6 * sv.max())), "no eigenvalue near the cut"
    theta_dot, _, info, _ = jax.jit(make_rhs(build_problem(q.point, ansatz), q.dynamics))(theta, chains, jax.random.key(1), hyper)
    # The variational update as a vector in Hilbert space: the projection of −iHψ (or −Hψ)
    # onto the tangent space, which is well conditioned whatever the parametrisation.
    a_real = dense_tangent(q, ansatz, theta)
    np.testing.assert_allclose(a_real @ np.asarray(theta_dot), a_real @ ref, rtol=0, atol=1e-10 * np.abs(a_real @ ref).max())
    kept = sv[sv > 1e-8 * sv.max()]
    if kept.min() > 1e-3 * kept.max():  # the parameters themselves, where S is well conditioned
        np.testing.assert_allclose(np.asarray(theta_dot), ref, rtol=0, atol=1e-10 * np.abs(ref).max())
    np.testing.assert_allclose(float(info.residual), ref_residual, rtol=1e-8, atol=1e-12)
    assert int(info.n_kept) == ansatz.n_real_params - n_null


def test_pinv_and_snr_equal_the_plain_solve_when_nothing_is_cut():
    # With the exact sampler there is no noise: SNR filtering reduces to the smooth pinv,
    # and a tiny rcond on a full-rank S leaves the exact solution.
    outs = []
    for reg in ({"kind": "diag_shift", "diag_shift": 0.0}, {"kind": "pinv", "rcond": 1e-14}, {"kind": "snr", "rcond": 1e-14}):
        q = quench("tfim-chain6", "real", reg)
        ansatz = make_ansatz(q.point)
        theta = 0.3 * jax.random.normal(jax.random.key(3), (ansatz.n_real_params,))
        chains = init_chains(jax.random.key(0), ansatz.log_psi, theta, 1, 6, "full", jnp.float64)
        problem = build_problem(q.point, ansatz)
        outs.append(np.asarray(make_rhs(problem, q.dynamics)(theta, chains, jax.random.key(1), problem.hyper)[0]))
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-9 * np.abs(outs[0]).max())
    np.testing.assert_allclose(outs[2], outs[1], atol=1e-12 * np.abs(outs[0]).max())


def test_smooth_cutoff_and_snr_filters_follow_their_formulas():
    rng = np.random.default_rng(0)
    n, p = 200, 6
    o_t = rng.normal(size=(2 * n, p)) / np.sqrt(n)
    o_t[:, 5] = o_t[:, 4] + 1e-6 * rng.normal(size=2 * n) / np.sqrt(n)  # a nearly singular direction
    y = rng.normal(size=2 * n) / np.sqrt(n)
    y += o_t[:, 0] * 3.0  # a strong signal along one direction
    s = o_t.T @ o_t
    lam, v = np.linalg.eigh(s)
    rho = v.T @ (o_t.T @ y)
    rcond, thr = 1e-6, 2.0
    f_pinv = 1 / (1 + (rcond * lam[-1] / lam) ** 6)
    q_samples = ((o_t @ v) * y[:, None]).reshape(2, n, p).sum(0) * n
    snr = np.abs(rho) * np.sqrt(n) / q_samples.std(axis=0)
    f_snr = f_pinv / (1 + (thr / snr) ** 6)
    for reg, filt in ((Regularization("pinv", 0.0, rcond, 0.0), f_pinv), (Regularization("snr", 0.0, rcond, thr), f_snr)):
        x, f, _, _ = regularised_direction(jnp.asarray(o_t), jnp.asarray(y), reg, 2, True)
        np.testing.assert_allclose(np.asarray(f), filt, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(np.asarray(x), v @ (filt * rho / lam), rtol=1e-8, atol=1e-10)
    assert f_snr.min() < 0.5 < f_snr.max(), "the case must cut some directions and keep others"
    # Tikhonov: (S + εI)⁻¹ F
    x, _, _, _ = regularised_direction(jnp.asarray(o_t), jnp.asarray(y), Regularization("diag_shift", 1e-3, 0, 0), 2, True)
    np.testing.assert_allclose(np.asarray(x), np.linalg.solve(s + 1e-3 * np.eye(p), o_t.T @ y), rtol=1e-9)
