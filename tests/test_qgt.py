"""The SR and MinSR solves, and the Cholesky → pseudo-inverse fallback."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nqs_sweep.mc.jacobian import DenseJacobian
from nqs_sweep.optim.qgt import natural_gradient, qgt_matrix, regularised_solve


def test_singular_system_without_shift_falls_back_to_pseudo_inverse():
    o_t = jax.random.normal(jax.random.key(1), (5, 12))  # rank 5 < 12
    b = o_t.T @ jnp.ones(5)
    x, fell_back = regularised_solve(qgt_matrix(o_t), b, 0.0, "cholesky")
    assert bool(fell_back)
    assert np.all(np.isfinite(np.asarray(x)))
    np.testing.assert_allclose(np.asarray(x), np.linalg.pinv(np.asarray(qgt_matrix(o_t))) @ np.asarray(b), rtol=1e-6, atol=1e-8)
    x2, fb2 = regularised_solve(qgt_matrix(o_t), b, 1e-2, "cholesky")
    assert not bool(fb2) and np.all(np.isfinite(np.asarray(x2)))


@pytest.mark.parametrize("rows, params", [(30, 12), (12, 30)])
@pytest.mark.parametrize("kind", ["sr", "minsr"])
def test_natural_gradient_is_the_same_update_in_every_space_and_solver(rows, params, kind):
    """(ÕᵀÕ + εI)⁻¹Õᵀẽ = Õᵀ(ÕÕᵀ + εI)⁻¹ẽ (push-through): every space and solver gives the direct solve."""
    o_t = jax.random.normal(jax.random.key(2), (rows, params))
    e_t = jax.random.normal(jax.random.key(3), (rows,))
    direct = np.linalg.solve(np.asarray(o_t.T @ o_t) + 1e-2 * np.eye(params), np.asarray(o_t.T @ e_t))
    for solver in ("cholesky", "pinv", "cg"):
        x, fell_back = natural_gradient(DenseJacobian(o_t), e_t, o_t.T @ e_t, 1e-2, kind, solver)
        assert not bool(fell_back)
        np.testing.assert_allclose(np.asarray(x), direct, rtol=1e-8, atol=1e-10)


def test_cg_reports_a_solve_it_could_not_finish():
    from nqs_sweep.optim import qgt

    a = jnp.diag(jnp.logspace(0, 12, 200))  # condition 1e12: 3 iterations cannot reach 1e-10
    b = jnp.ones(200)
    old = qgt.CG_MAXITER
    try:
        qgt.CG_MAXITER = 3
        _, fell_back = qgt.cg_solve(lambda v: a @ v, b, 0.0)
    finally:
        qgt.CG_MAXITER = old
    assert bool(fell_back)


@pytest.mark.parametrize("rows, params", [(30, 12), (12, 30)])
@pytest.mark.parametrize("kind", ["sr", "minsr"])
def test_spring_direction_is_the_minimiser_of_its_regularised_least_squares(rows, params, kind):
    """φ = argmin |Õφ − ẽ|² + ε|φ − μφ_prev|², i.e. (ÕᵀÕ + εI)φ = Õᵀẽ + εμφ_prev (dense normal
    equations), in either space; μ = 0 is the plain step."""
    from nqs_sweep.optim.optimizers import OPTIMIZERS
    from nqs_sweep.optim.step import spring_direction

    o_t = jax.random.normal(jax.random.key(4), (rows, params))
    e_t = jax.random.normal(jax.random.key(5), (rows,))
    previous = jax.random.normal(jax.random.key(6), (params,))
    shift, mu = 1e-2, 0.9
    o, e, p = (np.asarray(x) for x in (o_t, e_t, previous))
    normal = np.linalg.solve(o.T @ o + shift * np.eye(params), o.T @ e + shift * mu * p)
    phi, fell_back = spring_direction(OPTIMIZERS[kind], DenseJacobian(o_t), e_t, previous, mu, shift, "cholesky")
    assert not bool(fell_back)
    np.testing.assert_allclose(np.asarray(phi), normal, rtol=1e-8, atol=1e-10)
    plain, _ = natural_gradient(DenseJacobian(o_t), e_t, o_t.T @ e_t, shift, kind, "cholesky")
    zero, _ = spring_direction(OPTIMIZERS[kind], DenseJacobian(o_t), e_t, previous, 0.0, shift, "cholesky")
    np.testing.assert_allclose(np.asarray(zero), np.asarray(plain), rtol=1e-12, atol=1e-14)
    assert np.linalg.norm(np.asarray(phi) - np.asarray(plain)) > 1e-3  # the momentum does something
