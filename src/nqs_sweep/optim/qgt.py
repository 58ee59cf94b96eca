"""Quantum geometric tensor and the natural-gradient solves.

S = Re⟨ΔO* ΔO⟩ over real parameters. Stochastic reconfiguration solves
(S + ε I) δ = F in parameter space (P × P); MinSR (Chen & Heyl 2024) solves the
same regularised system in sample space, δ = Õᵀ (ÕÕᵀ + ε I)⁻¹ ẽ, which is exactly
equal by the push-through identity and cheaper when samples < parameters. Large dense systems
on the CPU are factored in single precision and refined to double precision's accuracy
(refined_solve); beyond dense sizes, conjugate gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from nqs_sweep.mc.jacobian import in_dtype, upper_triangle_squares

# Eigenvalues below this fraction of the largest are dropped by the pseudo-inverse.
PINV_RCOND = 1e-12


def qgt_matrix(o_t: jax.Array) -> jax.Array:
    return o_t.T @ o_t


def _pinv_solve(a: jax.Array, b: jax.Array) -> jax.Array:
    evals, evecs = jnp.linalg.eigh(a)
    cutoff = PINV_RCOND * jnp.max(jnp.abs(evals))
    inv = jnp.where(jnp.abs(evals) > cutoff, 1.0 / jnp.where(evals == 0, 1.0, evals), 0.0)
    return evecs @ (inv * (evecs.T @ b))


# Rows per block of the refinement's triangular solves, per backend. LAPACK's trsm, which jax
# calls for a triangular solve, runs one right-hand side far below the memory rate that a
# matrix-vector product reaches (W1's 1024 × 1024 float32 factor: 0.64 ms a pair of solves,
# 0.26 ms by blocks; docs/performance.md). By blocks, only the diagonal blocks go to trsm and the
# rest is matrix-vector products. Each block is a few more programs to compile, so only the
# refinement, which solves three times or more per factorisation, takes them, and the blocks are
# large. A backend not listed (a GPU, until measured there) keeps one trsm call per solve.
SUBSTITUTION_BLOCK = {"cpu": 256}


def _triangular_solves(factor: jax.Array, block: int | None = None) -> Callable[[jax.Array], jax.Array]:
    """r ↦ (L Lᴴ)⁻¹ r (r of shape (n,)) for a lower-triangular factor L: L y = r, then Lᴴ x = y.

    Blocked substitution on Lᴴ, the row-major view of LAPACK's column-major factor: its row block
    right of each diagonal block enters the backward solve as a matrix-vector product and the
    forward solve as a sum over its rows (each reads the block as it lies; a transposed product
    made XLA transpose the block on every solve), and only the diagonal blocks go to trsm.
    Reads only the lower triangle of L. Without ``block`` (or with one of n rows or more), one
    trsm call per solve.
    """
    n = factor.shape[0]
    if block is None or block >= n:

        def whole(r: jax.Array) -> jax.Array:
            y = jax.lax.linalg.triangular_solve(factor, r[:, None], left_side=True, lower=True)
            y = jax.lax.linalg.triangular_solve(factor, y, left_side=True, lower=True, transpose_a=True, conjugate_a=True)
            return y[:, 0]

        return whole
    edges = list(range(0, n, block)) + [n]
    spans = list(zip(edges[:-1], edges[1:]))

    # Sliced once here, outside any refinement loop: a dot reads a slice from a copy, and XLA
    # would otherwise copy every block again on each solve. The blocks are taken from Lᴴ, the
    # row-major view of the column-major factor, so that the copies keep the memory order.
    upper = jnp.conj(factor).T
    diagonal = [upper[lo:hi, lo:hi] for lo, hi in spans]  # Lᴴ's diagonal blocks: upper triangular
    right = [upper[lo:hi, hi:] for lo, hi in spans]  # Lᴴ's row blocks right of the diagonal

    def diagonal_solve(k: int, v: jax.Array, adjoint: bool) -> jax.Array:
        # U y = v, or Uᴴ y = v, for the upper-triangular diagonal block U of Lᴴ
        y = jax.lax.linalg.triangular_solve(
            diagonal[k], v[:, None], left_side=True, lower=False, transpose_a=adjoint, conjugate_a=adjoint
        )
        return y[:, 0]

    def solve(r: jax.Array) -> jax.Array:
        y = []
        for k, (lo, hi) in enumerate(spans):  # L y = r, column-oriented: a solved block updates the rows below it
            y.append(diagonal_solve(k, r[lo:hi], adjoint=True))
            if hi < n:
                r = r.at[hi:].add(-jnp.sum(jnp.conj(right[k]) * y[-1][:, None], axis=0))
        x = [None] * len(spans)
        for k in reversed(range(len(spans))):  # Lᴴ x = y, row-oriented
            v = y[k]
            if spans[k][1] < n:
                v = v - right[k] @ jnp.concatenate(x[k + 1 :])
            x[k] = diagonal_solve(k, v, adjoint=False)
        return jnp.concatenate(x)

    return solve


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
    return _triangular_solves(factor)(b)  # one pair of solves: not worth the blocks' compilation


class Refinement(NamedTuple):
    """What the mixed-precision solve of M x = b needs besides b (see refined_solve)."""

    # () -> (M in single precision, Σ_{i≤j} |M_ij|²): of M only the upper triangle (diagonal
    # included) is read, and the sum comes with it so that nothing reads M before its factorisation
    single: Callable[[], tuple[jax.Array, jax.Array]]
    apply: Callable[[jax.Array], jax.Array]  # x ↦ M x in b's (double) precision, never forming M
    shift: jax.Array  # the diagonal shift in M: its smallest eigenvalue is at least this
    trace: jax.Array  # tr(M) − n·shift = ‖Õ‖_F², at least λ_max(M) − shift; known before M is formed


# Mixed precision, as LAPACK's dsposv (Buttari et al. 2007): the matrix is formed and factored in
# single precision, where the products and the Cholesky run at about twice the rate, and the
# solution is refined with double-precision residuals until its backward error is double
# precision's. Per backend, the smallest system where it was measured to pay (docs/performance.md);
# a backend not listed (a GPU, until measured there) always solves in double precision.
REFINED_MIN_SIZE = {"cpu": 768}
REFINE_MAXITER = 10
# Each refinement shrinks the error by about cond(M)·ε₃₂ times a few (the factored kernel is
# centred in float32, so its error scales with the uncentred kernel). On W1's kernel
# (docs/performance.md) two refinements sufficed up to cond 6e4, seven at 6e5, and at 2e6 the
# iterations stalled; the double-precision kernel and solve cost about as much as a dozen
# refinements (W1: 18-21 ms against 11-12 ms with three passes). The attempt is
# skipped above this bound on the condition number, 1 + (tr(M) − n·shift)/shift: the trace, not
# a norm of M, because it is known before M is formed (W1: trace/λ_max 8.7-47, so 1e7 allows
# about cond 2e5-1e6). A refinement that does not shrink the residual by REFINE_MIN_REDUCTION
# stops the loop too, and the double-precision factorisation runs.
REFINE_MAX_CONDITION = 1e7
REFINE_MIN_REDUCTION = 0.5


def refinable(size: int, dtype, solver: str) -> bool:
    """Whether a dense solve of this many unknowns in dtype goes through refined_solve."""
    return (
        solver == "cholesky"
        and jnp.dtype(dtype) == jnp.float64  # real rows: the kernel and QGT are Re⟨ΔO* ΔO⟩
        and size >= REFINED_MIN_SIZE.get(jax.default_backend(), jnp.inf)
    )


def refined_solve(refine: Refinement, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """M x = b to double precision from a single-precision Cholesky factor of M. Returns (x, ok).

    Stops when ‖b − M x‖₂ ≤ √n ε₆₄ ‖M‖ ‖x‖₂ (dsposv-like: dsposv uses ∞-norms; here the 2-norm and
    the bound ‖M‖₂ ≤ ‖M‖_F ≤ √2 (Σ_{i≤j} M_ij²)^½ from the upper triangle), after at most
    REFINE_MAXITER refinements, or at the first that does not shrink the residual by
    REFINE_MIN_REDUCTION. ok is False where it did not get there, where the factorisation
    failed, or where M is too ill-conditioned to try (REFINE_MAX_CONDITION); the caller then
    solves in double precision.
    """
    n = b.shape[0]

    def attempt():
        # M is formed inside the branch, and nothing reads it before the factorisation: then the
        # factorisation overwrites it in place, where a branch operand would be copied first.
        low, upper_squares = refine.single()
        norm = jnp.sqrt(2 * upper_squares.astype(b.dtype))  # ‖M‖_F² = 2 Σ_{i≤j} |M_ij|² − Σ_i M_ii² ≤ that
        tol = jnp.sqrt(n) * jnp.finfo(b.dtype).eps * norm
        factor = jax.lax.linalg.cholesky(jnp.conj(low.T), symmetrize_input=False)
        solves = _triangular_solves(factor, SUBSTITUTION_BLOCK.get(jax.default_backend()))

        def converged(x, r):
            return jnp.linalg.norm(r) <= tol * jnp.linalg.norm(x)  # False where x or r has a NaN

        def going(carry):
            x, r, previous, k = carry
            shrinking = jnp.linalg.norm(r) <= REFINE_MIN_REDUCTION * previous  # False on a NaN
            return (k <= REFINE_MAXITER) & ~converged(x, r) & shrinking

        def solve_once(carry):
            x, r, _, k = carry
            x = x + solves(r.astype(low.dtype)).astype(b.dtype)
            return x, b - refine.apply(x), jnp.linalg.norm(r), k + 1

        # From x = 0 the loop's first pass is the single-precision solve, its others refinements:
        # the solves are traced (and compiled) once.
        start = (jnp.zeros_like(b), b, jnp.asarray(jnp.inf, b.real.dtype), 0)
        x, r, _, _ = jax.lax.while_loop(going, solve_once, start)
        return x, converged(x, r) & jnp.all(jnp.isfinite(x))  # inf ≤ inf would pass the test

    return jax.lax.cond(worth_refining(refine), attempt, lambda: (jnp.zeros_like(b), jnp.array(False)))


def worth_refining(refine: Refinement) -> jax.Array:
    """Whether refined_solve attempts the refinement: cond(M) ≤ (λ_max + shift)/shift ≤ 1 +
    trace/shift within REFINE_MAX_CONDITION (False for a zero shift, which bounds nothing)."""
    return refine.trace + refine.shift <= REFINE_MAX_CONDITION * refine.shift


def solve_shifted(
    shifted: Callable[[], jax.Array],
    b: jax.Array,
    solver: str,
    upper: Callable[[], jax.Array] | None = None,
    refine: Refinement | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Solve M x = b for M = shifted(), a symmetric positive semi-definite matrix plus its shift.

    Cholesky first; if it fails (a zero shift on a singular matrix gives non-finite factors)
    fall back to the pseudo-inverse. Returns (x, fell_back, refined): refined is True where x is
    the mixed-precision solution (``refine`` given, and it converged). M comes from a function, called
    again in the fallback branch: the factorisation then overwrites the only B × B array the
    step makes, instead of one of two kept alive for a branch that rarely runs. ``upper``, if
    given, makes a matrix whose upper triangle (diagonal included) is M's, the rest anything:
    all that the factorisation reads. With ``refine``, the mixed-precision solve comes first
    (refined_solve), and this double-precision one only where it did not converge.
    """
    if solver == "pinv":
        return _pinv_solve(shifted(), b), jnp.array(False), jnp.array(False)

    def double() -> tuple[jax.Array, jax.Array, jax.Array]:
        x = _cholesky_solve((upper or shifted)(), b)
        ok = jnp.all(jnp.isfinite(x))
        return jax.lax.cond(ok, lambda: x, lambda: _pinv_solve(shifted(), b)), ~ok, jnp.array(False)

    if refine is None:
        return double()
    x, ok = refined_solve(refine, b)
    return jax.lax.cond(ok, lambda: (x, jnp.array(False), jnp.array(True)), double)


def _plus_shift(a: jax.Array, shift: jax.Array) -> jax.Array:
    return a + jnp.asarray(shift).astype(a.dtype) * jnp.eye(a.shape[0], dtype=a.dtype)


def regularised_solve(a: jax.Array, b: jax.Array, diag_shift: jax.Array, solver: str) -> tuple[jax.Array, jax.Array]:
    """Solve (a + ε I) x = b for symmetric positive semi-definite a. Returns (x, fell_back) (see solve_shifted)."""
    return solve_shifted(lambda: _plus_shift(a, diag_shift), b, solver)[:2]


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
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """(S + εI)⁻¹ F for a Jacobian operator (nqs_sweep.mc.jacobian) and F = Õᵀẽ, solved where it is cheapest.

    SR and MinSR are the same update (push-through identity); ``kind="minsr"`` forces the
    sample space, ``kind="sr"`` takes the smaller of the two spaces. The solve is a dense
    Cholesky (``solver`` cholesky or pinv) up to DENSE_SOLVE_MAX unknowns, conjugate
    gradients on the Jacobian beyond that or when ``solver="cg"``. Returns (δ, flags), the flags
    being the step's metrics of the solve (solve_flags).
    """
    rows, params = e_t.shape[0], jac.n_params
    sample_space = kind == "minsr" or rows < params
    size = rows if sample_space else params
    if solver == "cg" or size > DENSE_SOLVE_MAX:
        if sample_space:
            y, fell_back = cg_solve(lambda v: jac.matvec(jac.rmatvec(v)), e_t, diag_shift)
            return jac.rmatvec(y), solve_flags(fell_back)
        x, fell_back = cg_solve(lambda v: jac.rmatvec(jac.matvec(v)), force, diag_shift)
        return x, solve_flags(fell_back)
    refine = refinable(size, e_t.dtype, solver)
    if sample_space:
        y, fell_back, refined = solve_shifted(
            lambda: jac.kernel(diag_shift),
            e_t,
            solver,
            upper=lambda: jac.kernel(diag_shift, upper_only=True),
            refine=kernel_refinement(jac, diag_shift, e_t.dtype) if refine else None,
        )
        return jac.rmatvec(y), solve_flags(fell_back, refined, refine)
    o_t = jac.dense()
    if not refine:
        x, fell_back = sr_direction(o_t, force, diag_shift, solver)
        return x, solve_flags(fell_back)
    x, fell_back, refined = solve_shifted(
        lambda: _plus_shift(qgt_matrix(o_t), diag_shift), force, solver, refine=qgt_refinement(o_t, diag_shift)
    )
    return x, solve_flags(fell_back, refined, refine)


def solve_flags(fell_back: jax.Array, refined: jax.Array | bool = False, refinable: bool = False) -> dict[str, jax.Array]:
    """The step's metrics of its direction's solve (the same keys from every optimiser):

    - ``solver_fallback``: the solve missed its own method (a failed Cholesky answered by the
      pseudo-inverse, conjugate gradients short of their tolerance);
    - ``solve_refined_missed``: the system was large enough for the mixed-precision solve
      (refinable) but it was skipped (REFINE_MAX_CONDITION) or did not converge, so the step
      paid for a double-precision factorisation as well: a sweep's shift schedule that has
      gone past what single precision can refine shows here.
    """
    return {
        "solver_fallback": jnp.asarray(fell_back),
        "solve_refined_missed": jnp.asarray(refinable) & ~jnp.asarray(refined),
    }


def kernel_refinement(jac, diag_shift: jax.Array, dtype) -> Refinement:
    """The mixed-precision solve of (ÕÕᵀ + εI) y = ẽ: the upper-triangle kernel from the Jacobian
    in single precision, residuals through the double-precision one (O(B P), never a B × B product)."""
    low = jnp.float32
    single = in_dtype(jac, low)
    shift = jnp.asarray(diag_shift)
    return Refinement(
        lambda: single.upper_kernel(shift.astype(low)),  # a float64 shift would promote K back
        lambda v: jac.matvec(jac.rmatvec(v)) + shift * v,
        shift,
        jac.squared_norm(),
    )


def qgt_refinement(o_t: jax.Array, diag_shift: jax.Array) -> Refinement:
    """The mixed-precision solve of (ÕᵀÕ + εI) x = F (parameter space)."""
    low = o_t.astype(jnp.float32)
    shift = jnp.asarray(diag_shift)

    def single() -> tuple[jax.Array, jax.Array]:
        s = _plus_shift(qgt_matrix(low), shift)  # the shift cast down: a float64 one would promote S back
        return s, upper_triangle_squares(s)

    return Refinement(single, lambda v: o_t.T @ (o_t @ v) + shift * v, shift, jnp.sum(o_t * o_t))


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
