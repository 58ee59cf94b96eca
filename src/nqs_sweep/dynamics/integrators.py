"""Explicit Runge–Kutta integrators, separate from the equation of motion.

An equation of motion is f(y, carry, key) -> (ẏ, carry, info, metric): besides the
derivative it threads a carry (the Markov chains, which continue from stage to
stage), takes a key (a stochastic right-hand side draws fresh samples at every
stage) and returns diagnostics and a metric (the QGT) from its first stage.

Tableaux: Euler (order 1), Heun (2), classical RK4 (4) and the Bogacki–Shampine
3(2) pair for adaptive steps. We do not reuse the last stage of an accepted
Bogacki–Shampine step as the first of the next (FSAL): with a stochastic f that
stage belongs to other samples, and the step's diagnostics should be of its own
start point.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Tableau(NamedTuple):
    a: tuple[tuple[float, ...], ...]  # strictly lower triangular, row i has i entries
    b: tuple[float, ...]
    order: int
    b_low: tuple[float, ...] | None = None  # embedded lower-order weights (adaptive pairs)


TABLEAUX = {
    "euler": Tableau(a=((),), b=(1.0,), order=1),
    "heun": Tableau(a=((), (1.0,)), b=(0.5, 0.5), order=2),
    "rk4": Tableau(a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), b=(1 / 6, 1 / 3, 1 / 3, 1 / 6), order=4),
    "rk23": Tableau(
        a=((), (0.5,), (0.0, 0.75), (2 / 9, 1 / 3, 4 / 9)),
        b=(2 / 9, 1 / 3, 4 / 9, 0.0),
        order=3,
        b_low=(7 / 24, 1 / 4, 1 / 3, 1 / 8),
    ),
}


def rk_step(tableau: Tableau, f, y: jax.Array, carry, dt: jax.Array, key: jax.Array):
    """One explicit RK step. Returns (y_new, carry, info, metric, error) where info and
    metric come from the first stage and error = y_new − y_low (zeros without a pair)."""
    n = len(tableau.b)
    keys = jax.random.split(key, n)
    carry = jax.tree.map(jnp.asarray, carry)
    k_shape, _, info_shape, metric_shape = jax.eval_shape(f, y, carry, keys[0])
    a = jnp.asarray([row + (0.0,) * (n - len(row)) for row in tableau.a], k_shape.dtype)

    # The stages as the iterations of one loop: f (for t-VMC the sampling, the local energies,
    # the Jacobian and the solve) is then compiled once, where written out stage by stage it was
    # compiled once per stage, four times for RK4.
    def stage(state, xs):
        ks, carry, first = state
        i, key = xs
        k, carry, info, metric = f(y + dt * jnp.tensordot(a[i], ks, axes=1), carry, key)
        first = jax.tree.map(lambda kept, new: jnp.where(i == 0, new, kept), first, (info, metric))
        return (ks.at[i].set(k), carry, first), None

    zeros = lambda shape: jnp.zeros(shape.shape, shape.dtype)  # noqa: E731
    start = (jnp.zeros((n, *k_shape.shape), k_shape.dtype), carry, jax.tree.map(zeros, (info_shape, metric_shape)))
    (ks, carry, (info, metric)), _ = jax.lax.scan(stage, start, (jnp.arange(n), keys))
    y_new = y + dt * jnp.tensordot(jnp.asarray(tableau.b, ks.dtype), ks, axes=1)
    if tableau.b_low is None:
        error = jnp.zeros_like(y)
    else:
        error = dt * jnp.tensordot(jnp.asarray([bi - bl for bi, bl in zip(tableau.b, tableau.b_low)], ks.dtype), ks, axes=1)
    return y_new, carry, info, metric, error


def error_ratio(error: jax.Array, y: jax.Array, y_new: jax.Array, atol: float, rtol: float, norm: str, metric=None):
    """Scaled error of an adaptive step; the step is accepted when it is <= 1.

    euclidean: RMS over parameters of e / (atol + rtol max(|y|, |y_new|)).
    qgt: the state distance ‖e‖_S = √(eᵀ S e) against atol + rtol ‖y_new − y‖_S, that is,
    relative to how far the step moved the state (parameter magnitudes carry no meaning
    in Hilbert space, so rtol is not taken relative to |y|).
    """
    if norm == "qgt":
        dist = lambda v: jnp.sqrt(jnp.maximum(v @ (metric @ v), 0.0))  # noqa: E731
        scale = atol + rtol * dist(y_new - y)
        return jnp.where(scale > 0, dist(error) / jnp.where(scale > 0, scale, 1.0), 0.0)  # no motion: no error
    scale = atol + rtol * jnp.maximum(jnp.abs(y), jnp.abs(y_new))
    return jnp.sqrt(jnp.mean((error / scale) ** 2))


def next_dt(dt: float, ratio: float, order: int, dt_min: float, dt_max: float, safety: float = 0.9) -> float:
    """Standard step-size controller: dt · safety · ratio^(-1/order), growth in [0.2, 5]."""
    if not math.isfinite(ratio):
        factor = 0.2
    elif ratio == 0:
        factor = 5.0
    else:
        # The error estimate of an order-p pair is O(dt^p) per step (the lower member's local error).
        factor = min(5.0, max(0.2, safety * ratio ** (-1.0 / order)))
    return min(dt_max, max(dt_min, dt * factor))
