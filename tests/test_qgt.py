"""The SR and MinSR solves, and the Cholesky → pseudo-inverse fallback."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nqs_sweep.qgt import minsr_direction, qgt_matrix, regularised_solve, sr_direction


@pytest.mark.parametrize("rows,params", [(40, 100), (200, 30)])
def test_minsr_equals_sr_for_the_same_shift(rows, params):
    """(ÕᵀÕ + εI)⁻¹Õᵀẽ = Õᵀ(ÕÕᵀ + εI)⁻¹ẽ: the push-through identity, in both shape regimes."""
    k1, k2 = jax.random.split(jax.random.key(0))
    o_t = jax.random.normal(k1, (rows, params)) / np.sqrt(rows)
    e_t = jax.random.normal(k2, (rows,)) / np.sqrt(rows)
    sr, _ = sr_direction(o_t, o_t.T @ e_t, 1e-3, "cholesky")
    minsr, _ = minsr_direction(o_t, e_t, 1e-3, "cholesky")
    np.testing.assert_allclose(np.asarray(minsr), np.asarray(sr), rtol=1e-8, atol=1e-10)
    direct = np.linalg.solve(np.asarray(qgt_matrix(o_t)) + 1e-3 * np.eye(params), np.asarray(o_t.T @ e_t))
    np.testing.assert_allclose(np.asarray(sr), direct, rtol=1e-8, atol=1e-10)


def test_singular_system_without_shift_falls_back_to_pseudo_inverse():
    o_t = jax.random.normal(jax.random.key(1), (5, 12))  # rank 5 < 12
    b = o_t.T @ jnp.ones(5)
    x, fell_back = regularised_solve(qgt_matrix(o_t), b, 0.0, "cholesky")
    assert bool(fell_back)
    assert np.all(np.isfinite(np.asarray(x)))
    np.testing.assert_allclose(np.asarray(x), np.linalg.pinv(np.asarray(qgt_matrix(o_t))) @ np.asarray(b), rtol=1e-6, atol=1e-8)
    x2, fb2 = regularised_solve(qgt_matrix(o_t), b, 1e-2, "cholesky")
    assert not bool(fb2) and np.all(np.isfinite(np.asarray(x2)))
