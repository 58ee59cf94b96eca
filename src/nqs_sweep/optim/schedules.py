"""Scalar schedules evaluated inside jit: the kind is static, the numbers traced."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from nqs_sweep.spec import Schedule


class ScheduleValues(NamedTuple):
    init: jnp.ndarray
    end: jnp.ndarray
    steps: jnp.ndarray


def schedule_values(s: Schedule) -> ScheduleValues:
    return ScheduleValues(
        jnp.asarray(s.init, jnp.float64), jnp.asarray(s.end, jnp.float64), jnp.asarray(max(s.steps, 1), jnp.float64)
    )


def schedule_at(kind: str, v: ScheduleValues, t: jnp.ndarray) -> jnp.ndarray:
    frac = jnp.clip(t / v.steps, 0.0, 1.0)
    if kind == "constant":
        return v.init
    if kind == "linear":
        return v.init + (v.end - v.init) * frac
    if kind == "exponential":
        return v.init * (v.end / v.init) ** frac
    if kind == "cosine":
        return v.end + (v.init - v.end) * 0.5 * (1 + jnp.cos(jnp.pi * frac))
    raise ValueError(f"unknown schedule {kind!r}")
