"""Integrators: the order of convergence on a linear test equation, and the step controller."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from nqs_sweep.dynamics.integrators import TABLEAUX, error_ratio, next_dt, rk_step

A = np.array([[-0.3, 2.0, 0.0], [-2.0, -0.3, 0.5], [0.0, -0.5, -0.1]])
Y0 = np.array([1.0, 0.0, 0.5])


def f(y, carry, key):
    return jnp.asarray(A) @ y, carry + 1, {"norm": jnp.linalg.norm(y)}, jnp.eye(3)


def integrate(name: str, dt: float, t_final: float = 1.0):
    step = jax.jit(lambda y, c, k: rk_step(TABLEAUX[name], f, y, c, dt, k))
    y, calls = jnp.asarray(Y0), 0
    for i in range(round(t_final / dt)):
        y, calls, _, _, _ = step(y, calls, jax.random.key(i))
    return np.asarray(y), int(calls)


@pytest.mark.parametrize("name", list(TABLEAUX))
def test_global_error_converges_at_the_stated_order(name):
    exact = scipy.linalg.expm(A) @ Y0
    dts = [0.1, 0.05, 0.025]
    errors = [np.linalg.norm(integrate(name, dt)[0] - exact) for dt in dts]
    slopes = np.diff(np.log(errors)) / np.diff(np.log(dts))
    order = TABLEAUX[name].order
    assert np.all(np.abs(slopes - order) < 0.25), (name, slopes)
    # every stage calls the right-hand side once per step
    assert integrate(name, 0.1)[1] == 10 * len(TABLEAUX[name].b)


def test_embedded_error_estimate_is_third_order_per_step():
    # The Bogacki–Shampine estimate is the local error of the 2nd-order member: O(dt^3).
    estimates = []
    for dt in (0.1, 0.05, 0.025):
        _, _, _, _, err = rk_step(TABLEAUX["rk23"], f, jnp.asarray(Y0), 0, dt, jax.random.key(0))
        estimates.append(float(jnp.linalg.norm(err)))
    slopes = np.diff(np.log(estimates)) / np.log(0.5)
    assert np.all(np.abs(slopes - 3) < 0.2), slopes


def test_error_ratio_norms_and_the_step_controller():
    e, y, y_new = jnp.array([1e-4, 0.0]), jnp.array([1.0, 2.0]), jnp.array([1.0, 2.0])
    # euclidean: RMS of e / (atol + rtol |y|)
    assert float(error_ratio(e, y, y_new, 1e-4, 0.0, "euclidean")) == pytest.approx(np.sqrt(0.5))
    # qgt: √(eᵀSe) against atol + rtol ‖Δy‖_S
    metric = jnp.diag(jnp.array([4.0, 1.0]))
    assert float(error_ratio(e, y, y + jnp.array([0.0, 1.0]), 1e-4, 0.0, "qgt", metric)) == pytest.approx(2.0)
    assert float(error_ratio(e, y, y + jnp.array([0.0, 1.0]), 0.0, 1e-4, "qgt", metric)) == pytest.approx(2.0)
    # an error at the tolerance keeps the step (times the safety factor), growth and shrink are bounded
    assert next_dt(0.1, 1.0, 3, 1e-6, 1.0) == pytest.approx(0.09)
    assert next_dt(0.1, 1e-12, 3, 1e-6, 1.0) == pytest.approx(0.5)
    assert next_dt(0.1, 1e12, 3, 1e-6, 1.0) == pytest.approx(0.02)
    assert next_dt(0.1, float("nan"), 3, 1e-6, 1.0) == pytest.approx(0.02)
    assert next_dt(0.1, 1e-12, 3, 1e-6, 0.3) == pytest.approx(0.3)
