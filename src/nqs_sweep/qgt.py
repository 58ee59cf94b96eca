"""Quantum geometric tensor and the natural-gradient solves.

S = Re⟨ΔO* ΔO⟩ over real parameters. Stochastic reconfiguration solves
(S + ε I) δ = F in parameter space (P × P); MinSR (Chen & Heyl 2024) solves the
same regularised system in sample space, δ = Õᵀ (ÕÕᵀ + ε I)⁻¹ ẽ, which is exactly
equal by the push-through identity and cheaper when samples < parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Eigenvalues below this fraction of the largest are dropped by the pseudo-inverse.
PINV_RCOND = 1e-12


def qgt_matrix(o_t: jax.Array) -> jax.Array:
    return o_t.T @ o_t


def _pinv_solve(a: jax.Array, b: jax.Array) -> jax.Array:
    evals, evecs = jnp.linalg.eigh(a)
    cutoff = PINV_RCOND * jnp.max(jnp.abs(evals))
    inv = jnp.where(jnp.abs(evals) > cutoff, 1.0 / jnp.where(evals == 0, 1.0, evals), 0.0)
    return evecs @ (inv * (evecs.T @ b))


def regularised_solve(a: jax.Array, b: jax.Array, diag_shift: jax.Array, solver: str) -> tuple[jax.Array, jax.Array]:
    """Solve (a + ε I) x = b for symmetric positive semi-definite a.

    Cholesky first; if it fails (a zero shift on a singular a gives non-finite
    factors) fall back to the pseudo-inverse. Returns (x, fell_back).
    """
    shifted = a + diag_shift * jnp.eye(a.shape[0], dtype=a.dtype)
    if solver == "pinv":
        return _pinv_solve(shifted, b), jnp.array(False)
    factor = jax.scipy.linalg.cho_factor(shifted, lower=True)
    x = jax.scipy.linalg.cho_solve(factor, b)
    ok = jnp.all(jnp.isfinite(x))
    return jax.lax.cond(ok, lambda: x, lambda: _pinv_solve(shifted, b)), ~ok


def sr_direction(o_t: jax.Array, e_t: jax.Array, diag_shift: jax.Array, solver: str) -> tuple[jax.Array, jax.Array]:
    """Parameter-space SR: (S + ε I)⁻¹ F."""
    return regularised_solve(qgt_matrix(o_t), o_t.T @ e_t, diag_shift, solver)


def minsr_direction(o_t: jax.Array, e_t: jax.Array, diag_shift: jax.Array, solver: str) -> tuple[jax.Array, jax.Array]:
    """Sample-space SR: Õᵀ (ÕÕᵀ + ε I)⁻¹ ẽ."""
    y, fell_back = regularised_solve(o_t @ o_t.T, e_t, diag_shift, solver)
    return o_t.T @ y, fell_back
