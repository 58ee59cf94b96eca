"""Quantum geometric tensor and the natural-gradient solves.

S = Re⟨ΔO* ΔO⟩ over real parameters. Stochastic reconfiguration solves
(S + ε I) δ = F in parameter space (P × P); MinSR (Chen & Heyl 2024) solves the
same regularised system in sample space, δ = Õᵀ (ÕÕᵀ + ε I)⁻¹ ẽ, which is exactly
equal by the push-through identity and cheaper when samples < parameters.
"""

from __future__ import annotations

from collections.abc import Callable

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


def _cholesky_solve(a: jax.Array, b: jax.Array) -> jax.Array:
    """a⁻¹ b (b of shape (n,)) for Hermitian (real: symmetric) positive definite a, by its Cholesky
    factor (non-finite if it fails). Reads only the upper triangle of a, diagonal included.

    LAPACK works on column-major arrays, so XLA copies a row-major input into a transposed
    buffer first; for a Hermitian matrix a = conj(aᵀ), and factoring conj(aᵀ) (whose lower
    triangle, the one jax's Cholesky reads, is a's upper) lets it use the buffer as it is. On
    W1's 1024 × 1024 kernel the solve went from 14.3 to 12.0 ms (one thread, minimum of 20 calls).
    """
    dtype = jnp.result_type(a, b)  # as jax.scipy's cho_solve promoted: the triangular solves do not
    a, b = a.astype(dtype), b.astype(dtype)
    factor = jax.lax.linalg.cholesky(jnp.conj(a.T), symmetrize_input=False)
    y = jax.lax.linalg.triangular_solve(factor, b[:, None], left_side=True, lower=True)
    x = jax.lax.linalg.triangular_solve(factor, y, left_side=True, lower=True, transpose_a=True, conjugate_a=True)
    return x[:, 0]


def solve_shifted(
    shifted: Callable[[], jax.Array], b: jax.Array, solver: str, upper: Callable[[], jax.Array] | None = None
) -> tuple[jax.Array, jax.Array]:
    """Solve M x = b for M = shifted(), a symmetric positive semi-definite matrix plus its shift.

    Cholesky first; if it fails (a zero shift on a singular matrix gives non-finite factors)
    fall back to the pseudo-inverse. Returns (x, fell_back). M comes from a function, called
    again in the fallback branch: the factorisation then overwrites the only B × B array the
    step makes, instead of one of two kept alive for a branch that rarely runs. ``upper``, if
    given, makes a matrix whose upper triangle (diagonal included) is M's, the rest anything:
    all that the factorisation reads.
    """
    if solver == "pinv":
        return _pinv_solve(shifted(), b), jnp.array(False)
    x = _cholesky_solve((upper or shifted)(), b)
    ok = jnp.all(jnp.isfinite(x))
    return jax.lax.cond(ok, lambda: x, lambda: _pinv_solve(shifted(), b)), ~ok


def regularised_solve(a: jax.Array, b: jax.Array, diag_shift: jax.Array, solver: str) -> tuple[jax.Array, jax.Array]:
    """Solve (a + ε I) x = b for symmetric positive semi-definite a (see solve_shifted)."""
    return solve_shifted(lambda: a + diag_shift * jnp.eye(a.shape[0], dtype=a.dtype), b, solver)


def sr_direction(o_t: jax.Array, force: jax.Array, diag_shift: jax.Array, solver: str) -> tuple[jax.Array, jax.Array]:
    """Parameter-space SR: (S + ε I)⁻¹ F, with F = Õᵀẽ (the step has it already)."""
    return regularised_solve(qgt_matrix(o_t), force, diag_shift, solver)


# Above this many unknowns (the smaller of samples and parameters) a dense matrix would not
# fit or not pay (a 20 000² float64 matrix is 3.2 GB, its Cholesky 2.7 TFLOP): SR then uses
# conjugate gradients on the Jacobian, whose matrix-vector products never form S or K.
DENSE_SOLVE_MAX = 20_000
CG_TOL = 1e-10  # relative residual (float64; at least 100 ulp of the dtype)
CG_MAXITER = 1000


def cg_solve(matvec, b: jax.Array, diag_shift: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Solve (A + ε I) x = b by conjugate gradients from matvec(v) = A v.

    Returns (x, not_converged): the iterate after CG_MAXITER iterations is used either way,
    and the flag (the step's ``solver_fallback``) says it missed the tolerance.
    """
    tol = max(CG_TOL, 100 * float(jnp.finfo(b.dtype).eps))
    op = lambda v: matvec(v) + diag_shift * v  # noqa: E731
    x, _ = jax.scipy.sparse.linalg.cg(op, b, tol=tol, maxiter=CG_MAXITER)
    residual = jnp.linalg.norm(op(x) - b) / jnp.maximum(jnp.linalg.norm(b), jnp.finfo(b.dtype).tiny)
    return x, ~(residual <= 10 * tol)


def natural_gradient(
    jac, e_t: jax.Array, force: jax.Array, diag_shift: jax.Array, kind: str, solver: str
) -> tuple[jax.Array, jax.Array]:
    """(S + εI)⁻¹ F for a Jacobian operator (nqs_sweep.mc.jacobian) and F = Õᵀẽ, solved where it is cheapest.

    SR and MinSR are the same update (push-through identity); ``kind="minsr"`` forces the
    sample space, ``kind="sr"`` takes the smaller of the two spaces. The solve is a dense
    Cholesky (``solver`` cholesky or pinv) up to DENSE_SOLVE_MAX unknowns, conjugate
    gradients on the Jacobian beyond that or when ``solver="cg"``. Returns (δ, fell_back).
    """
    rows, params = e_t.shape[0], jac.n_params
    sample_space = kind == "minsr" or rows < params
    size = rows if sample_space else params
    if solver == "cg" or size > DENSE_SOLVE_MAX:
        if sample_space:
            y, fell_back = cg_solve(lambda v: jac.matvec(jac.rmatvec(v)), e_t, diag_shift)
            return jac.rmatvec(y), fell_back
        return cg_solve(lambda v: jac.rmatvec(jac.matvec(v)), force, diag_shift)
    if sample_space:
        y, fell_back = solve_shifted(
            lambda: jac.kernel(diag_shift), e_t, solver, upper=lambda: jac.kernel(diag_shift, upper_only=True)
        )
        return jac.rmatvec(y), fell_back
    return sr_direction(jac.dense(), force, diag_shift, solver)


# Rank cuts reported with every spectrum, named as in the tables (the contract).
RANK_CUTS = {"rank_abs_1e-5": ("abs", 1e-5), "rank_rel_1e-6": ("rel", 1e-6), "rank_rel_1e-10": ("rel", 1e-10)}


def qgt_spectrum(o_t: jax.Array) -> jax.Array:
    """All P eigenvalues of S = ÕᵀÕ in descending order, from the singular values of Õ.

    Squared singular values are accurate down to ~ε·σ_max² where forming S first would
    lose everything below ~ε·λ_max in absolute terms; the P - rank(Õ) missing ones are 0.
    """
    sv = jnp.linalg.svd(o_t, compute_uv=False)
    evals = jnp.zeros(o_t.shape[1], o_t.dtype).at[: sv.shape[0]].set(sv**2)
    return jnp.sort(evals)[::-1]


def ranks(evals) -> dict[str, int]:
    """Number of eigenvalues above each cut of RANK_CUTS (absolute, or relative to the largest)."""
    import numpy as np

    evals = np.asarray(evals)
    top = evals.max() if evals.size else 0.0
    return {name: int((evals > (tol if kind == "abs" else tol * top)).sum()) for name, (kind, tol) in RANK_CUTS.items()}
