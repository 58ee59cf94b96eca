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
    assert not bool(fb2)
    a = np.asarray(qgt_matrix(o_t)) + 1e-2 * np.eye(12)
    np.testing.assert_allclose(np.asarray(x2), np.linalg.solve(a, np.asarray(b)), rtol=1e-8)


def test_the_cholesky_solve_reads_only_the_upper_triangle():
    """The sample-space step hands it a kernel whose lower blocks were never computed (zeros)."""
    from nqs_sweep.optim.qgt import _cholesky_solve

    o_t = jax.random.normal(jax.random.key(4), (10, 30))
    a = np.asarray(o_t @ o_t.T) + 0.1 * np.eye(10)
    b = jax.random.normal(jax.random.key(5), (10,))
    garbage = np.triu(a) + np.tril(np.full((10, 10), 1e3), -1)
    np.testing.assert_allclose(
        np.asarray(_cholesky_solve(jnp.asarray(garbage), b)), np.linalg.solve(a, np.asarray(b)), rtol=1e-10
    )
    # a Hermitian matrix (aᵀ ≠ a), and a float32 right-hand side promoted as jax.scipy's cho_solve did
    z = np.asarray(o_t) + 1j * np.asarray(jax.random.normal(jax.random.key(6), (10, 30)))
    h = z @ z.conj().T + 0.1 * np.eye(10)
    np.testing.assert_allclose(np.asarray(_cholesky_solve(jnp.asarray(h), b)), np.linalg.solve(h, np.asarray(b)), rtol=1e-10)
    x32 = _cholesky_solve(jnp.asarray(a), jnp.asarray(b, jnp.float32))
    assert x32.dtype == jnp.float64


def test_a_factored_kernel_of_many_row_blocks_gives_the_same_step():
    """natural_gradient factors the upper-triangle kernel (row blocks, zeros below them): the same
    update as the dense rows' solve, also where the rows do not split evenly into blocks."""
    from nqs_sweep.mc.jacobian import FactoredJacobian

    # jitted, not op by op (one program for each number of rows): 14.3 s -> 3.7 s
    step = jax.jit(lambda jac, e_t: (jac.dense(), natural_gradient(jac, e_t, jac.rmatvec(e_t), 1e-2, "minsr", "cholesky")))
    for rows in (7, 3, 1):  # 7 rows into 4 blocks; fewer rows than blocks
        u = jax.random.normal(jax.random.key(6), (rows, 5))
        v = jax.random.normal(jax.random.key(7), (rows, 4))
        w = jax.random.uniform(jax.random.key(8), (rows,)) + 0.1
        jac = FactoredJacobian([(u, v), (u, None), (v, None)], w / w.sum())
        e_t = jax.random.normal(jax.random.key(9), (rows,))
        o_t, (x, flags) = step(jac, e_t)
        direct = np.linalg.solve(np.asarray(o_t.T @ o_t) + 1e-2 * np.eye(jac.n_params), np.asarray(o_t.T @ e_t))
        assert not bool(flags["solver_fallback"])
        np.testing.assert_allclose(np.asarray(x), direct, rtol=1e-8, atol=1e-10)


def test_a_singular_factored_kernel_falls_back_on_the_whole_kernel():
    """The pseudo-inverse (eigh) needs both triangles: its branch forms the whole kernel again."""
    from nqs_sweep.mc.jacobian import FactoredJacobian

    u = jax.random.normal(jax.random.key(10), (12, 3))  # rank 3 < 12 samples, no shift
    jac = FactoredJacobian([(u, None)], jnp.full(12, 1 / 12))
    e_t = jax.random.normal(jax.random.key(11), (12,))
    # jitted, not op by op (5.7 s -> under 1 s)
    o_t, (x, flags) = jax.jit(
        lambda jac, e_t: (jac.dense(), natural_gradient(jac, e_t, jac.rmatvec(e_t), 0.0, "minsr", "cholesky"))
    )(jac, e_t)
    assert bool(flags["solver_fallback"])
    o_t = np.asarray(o_t)
    np.testing.assert_allclose(np.asarray(x), o_t.T @ np.linalg.pinv(o_t @ o_t.T) @ np.asarray(e_t), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("rows, params", [(30, 12), (12, 30)])
@pytest.mark.parametrize("kind", ["sr", "minsr"])
def test_natural_gradient_is_the_same_update_in_every_space_and_solver(rows, params, kind):
    """(ÕᵀÕ + εI)⁻¹Õᵀẽ = Õᵀ(ÕÕᵀ + εI)⁻¹ẽ (push-through): every space and solver gives the direct solve."""
    o_t = jax.random.normal(jax.random.key(2), (rows, params))
    e_t = jax.random.normal(jax.random.key(3), (rows,))
    direct = np.linalg.solve(np.asarray(o_t.T @ o_t) + 1e-2 * np.eye(params), np.asarray(o_t.T @ e_t))
    for solver in ("cholesky", "pinv", "cg"):  # each jitted, not op by op
        step = jax.jit(lambda o_t, e_t, solver=solver: natural_gradient(DenseJacobian(o_t), e_t, o_t.T @ e_t, 1e-2, kind, solver))
        x, flags = step(o_t, e_t)
        assert not bool(flags["solver_fallback"]) and not bool(flags["solve_refined_missed"])
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
    phi, flags = spring_direction(OPTIMIZERS[kind], DenseJacobian(o_t), e_t, previous, mu, shift, "cholesky")
    assert not bool(flags["solver_fallback"])
    np.testing.assert_allclose(np.asarray(phi), normal, rtol=1e-8, atol=1e-10)
    plain, _ = natural_gradient(DenseJacobian(o_t), e_t, o_t.T @ e_t, shift, kind, "cholesky")
    zero, _ = spring_direction(OPTIMIZERS[kind], DenseJacobian(o_t), e_t, previous, 0.0, shift, "cholesky")
    np.testing.assert_allclose(np.asarray(zero), np.asarray(plain), rtol=1e-12, atol=1e-14)
    assert np.linalg.norm(np.asarray(phi) - np.asarray(plain)) > 1e-3  # the momentum does something


def test_a_single_precision_network_is_solved_in_double_precision():
    """in_float64 keeps the float32 rows' values and does the kernel's sums in float64 (the float32
    kernel is off by ~1e-7 relative); a float32 network's step keeps θ and SPRING's direction in
    float32 (a float64 update would change the state's type and recompile every step)."""
    from nqs_sweep.mc.jacobian import FactoredJacobian, in_float64
    from nqs_sweep.optim.step import init_state, make_step
    from nqs_sweep.problem import build_problem
    from nqs_sweep.spec import parse_spec

    u = jax.random.normal(jax.random.key(8), (64, 40), jnp.float32)
    v = jax.random.normal(jax.random.key(9), (64, 30), jnp.float32)
    w = jnp.full(64, 1 / 64, jnp.float32)
    jac = FactoredJacobian([(u, v), (u, None)], w)
    promoted = in_float64(jac)
    assert promoted.kernel().dtype == jnp.float64
    rows = np.concatenate([np.einsum("bi,bj->bij", np.float64(u), np.float64(v)).reshape(64, -1), np.float64(u)], axis=1)
    rows = (rows - rows.mean(0)) / 8.0
    exact = rows @ rows.T
    np.testing.assert_allclose(np.asarray(promoted.kernel()), exact, rtol=1e-12, atol=1e-12 * np.abs(exact).max())
    assert np.abs(np.asarray(jac.kernel(), np.float64) - exact).max() > 1e-9 * np.abs(exact).max()
    assert promoted.blocks[0][0] is promoted.blocks[1][0]  # the repeated factor stays one array

    raw = {
        "model": {"name": "tfim", "h": 1.0},
        "lattice": {"kind": "chain", "L": 8},
        "ansatz": {"name": "rbm", "alpha": 1, "dtype": "float32"},
        "sampler": {"n_samples": 64, "n_chains": 8},
        "optimizer": {"kind": "sr", "momentum": 0.9},
    }
    problem = build_problem(parse_spec(raw))
    state = init_state(problem, jax.random.key(0))
    state, metrics = make_step(problem)(state, jax.random.key(1), problem.hyper)
    assert state.theta.dtype == state.opt_state[1].dtype == jnp.float32
    assert np.isfinite(float(metrics["energy"])) and np.linalg.norm(np.asarray(state.opt_state[1])) > 0


@pytest.fixture
def refine_every_size(monkeypatch):
    """The mixed-precision solve for every system size on this backend (it starts at hundreds),
    with triangular solves in blocks of 16 rows (128 on the CPU: more than these systems have)."""
    from nqs_sweep.optim import qgt

    monkeypatch.setitem(qgt.REFINED_MIN_SIZE, jax.default_backend(), 1)
    monkeypatch.setitem(qgt.SUBSTITUTION_BLOCK, jax.default_backend(), 16)
    return qgt


@pytest.mark.parametrize("block", [None, 4, 5, 10, 64])  # one trsm; blocks that do and do not divide 10
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64, jnp.complex128])
def test_the_blocked_substitution_solves_with_the_lower_triangle_only(block, dtype):
    from nqs_sweep.optim import qgt

    rng = np.random.default_rng(7)
    n = 10
    z = rng.standard_normal((n, 2 * n)) + (1j * rng.standard_normal((n, 2 * n)) if dtype == jnp.complex128 else 0)
    a = z @ z.conj().T / n + 0.5 * np.eye(n)
    factor = np.linalg.cholesky(a)
    factor[np.triu_indices(n, 1)] = np.nan  # never read
    r = rng.standard_normal(n)
    x = jax.jit(lambda f, v: qgt._triangular_solves(f, block)(v))(jnp.asarray(factor, dtype), jnp.asarray(r, dtype))
    rtol = 1e-4 if dtype == jnp.float32 else 1e-12
    np.testing.assert_allclose(np.asarray(x), np.linalg.solve(a, r), rtol=rtol)


def test_the_trace_and_the_upper_squares_of_a_factored_kernel():
    """squared_norm (the refinement's bound on λ_max) and upper_kernel's Σ_{i≤j} K_ij², without
    forming Õ, against the dense rows and the whole kernel."""
    from nqs_sweep.mc.jacobian import FactoredJacobian

    rows = 9  # four row blocks on the CPU, of unequal sizes
    u = jnp.tanh(jax.random.normal(jax.random.key(30), (rows, 5)))
    v = jnp.sign(jax.random.normal(jax.random.key(31), (rows, 3)))
    w = jax.random.uniform(jax.random.key(32), (rows,)) + 0.1
    for jac in (FactoredJacobian([(u, v), (u, None), (v, None)], w / w.sum()),):
        o_t = np.asarray(jac.dense())
        for j in (jac, DenseJacobian(jnp.asarray(o_t))):
            norm, (upper, squares) = jax.jit(lambda j: (j.squared_norm(), j.upper_kernel(0.3)))(j)  # not op by op: 5.9 s -> 1.9 s
            np.testing.assert_allclose(float(norm), np.sum(o_t**2), rtol=1e-12)
            k = o_t @ o_t.T + 0.3 * np.eye(rows)
            np.testing.assert_allclose(np.triu(np.asarray(upper)), np.triu(k), rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(float(squares), np.sum(np.triu(k) ** 2), rtol=1e-12)


def _ill_conditioned(n: int, cond: float, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return (q * np.logspace(0, -np.log10(cond), n)) @ q.T


@pytest.mark.parametrize("rows, hidden, visible", [(40, 9, 10), (120, 9, 5)])  # 99 and 54 parameters
@pytest.mark.parametrize("kind", ["sr", "minsr"])
def test_the_mixed_precision_solve_is_the_double_precision_solve(refine_every_size, rows, hidden, visible, kind):
    """Factored in float32, refined with float64 residuals: the update agrees with a float64 solve
    to float64's precision, not float32's (a float32 solve alone is off by ~1e-6 here), and the
    refinement itself converged (its float64 fallback would also pass the comparison)."""
    from nqs_sweep.mc.jacobian import FactoredJacobian

    qgt = refine_every_size
    u = jnp.tanh(jax.random.normal(jax.random.key(20), (rows, hidden)))
    v = jnp.sign(jax.random.normal(jax.random.key(21), (rows, visible)))
    jac = FactoredJacobian([(u, v), (u, None)], jnp.full(rows, 1 / rows))
    e_t = jax.random.normal(jax.random.key(22), (rows,))
    o_t = np.asarray(jac.dense())
    shift = jnp.asarray(1e-3)
    direct = np.linalg.solve(o_t.T @ o_t + 1e-3 * np.eye(jac.n_params), o_t.T @ np.asarray(e_t))
    for j in (jac, DenseJacobian(jnp.asarray(o_t))):
        x, flags = natural_gradient(j, e_t, j.rmatvec(e_t), shift, kind, "cholesky")
        assert not bool(flags["solver_fallback"]) and not bool(flags["solve_refined_missed"])
        np.testing.assert_allclose(np.asarray(x), direct, rtol=1e-11, atol=1e-13 * np.abs(direct).max())
        assert x.dtype == jnp.float64
        if kind == "minsr" or rows < jac.n_params:
            assert bool(qgt.refined_solve(qgt.kernel_refinement(j, shift, e_t.dtype), e_t)[1])
        else:
            assert bool(qgt.refined_solve(qgt.qgt_refinement(j.dense(), shift), j.rmatvec(e_t))[1])


def test_the_mixed_precision_solve_factors_in_single_precision(refine_every_size):
    """The Cholesky of the refined path is float32 (a float64 shift once promoted the matrix back)."""
    o_t = jax.random.normal(jax.random.key(23), (30, 50))
    e_t = jax.random.normal(jax.random.key(24), (30,))
    step = lambda s: natural_gradient(DenseJacobian(o_t), e_t, o_t.T @ e_t, s, "minsr", "cholesky")  # noqa: E731
    jaxpr = str(jax.make_jaxpr(step)(jnp.asarray(1e-2)))
    factorisations = [line.split("=")[0] for line in jaxpr.splitlines() if "= cholesky" in line]
    assert any("f32[30,30]" in out for out in factorisations)  # the refined solve
    assert any("f64[30,30]" in out for out in factorisations)  # its double-precision fallback


def _refinement(qgt, m: np.ndarray, shift: float, trace: float | None = None, applied: list | None = None):
    """A Refinement of the dense matrix m, which holds its shift; trace defaults to tr(m) − n·shift.
    With ``applied``, each double-precision product appends to it as it runs."""
    m64 = jnp.asarray(m)
    n = m.shape[0]

    def apply(v):
        if applied is not None:
            jax.debug.callback(lambda: applied.append(1))
        return m64 @ v

    return qgt.Refinement(
        lambda: (m64.astype(jnp.float32), jnp.sum(jnp.triu(m64.astype(jnp.float32)) ** 2)),
        apply,
        jnp.asarray(shift),
        jnp.asarray(np.trace(m) - n * shift if trace is None else trace),
    )


def test_refinement_reports_what_it_could_not_do(refine_every_size):
    qgt = refine_every_size
    n = 60
    a = _ill_conditioned(n, 1e3, 0)
    b = jnp.asarray(np.random.default_rng(1).standard_normal(n))
    x, ok = qgt.refined_solve(_refinement(qgt, a, 1e-3), b)
    assert bool(ok)
    np.testing.assert_allclose(np.asarray(x), np.linalg.solve(a, np.asarray(b)), rtol=1e-10)
    # 1 + trace/shift above REFINE_MAX_CONDITION: not tried; a zero shift bounds nothing
    for shift in (0.0, 1e-9):
        applied = []
        assert not bool(qgt.refined_solve(_refinement(qgt, a, shift, applied=applied), b)[1])
        assert not applied


def test_a_stalled_refinement_stops_and_says_so(refine_every_size):
    """A single-precision matrix too far from M (here M/1.6: each pass shrinks the error by only
    0.6) converges too slowly to pay: the loop stops at the first pass that does not halve the
    residual, not after REFINE_MAXITER refinements, and reports no solution."""
    qgt = refine_every_size
    n = 40
    a = _ill_conditioned(n, 10.0, 5)
    b = jnp.asarray(np.random.default_rng(6).standard_normal(n))
    applied = []
    refine = _refinement(qgt, a, 1e-2, applied=applied)
    slow = refine._replace(single=lambda: (jnp.asarray(a / 1.6, jnp.float32), jnp.sum(jnp.triu(a / 1.6) ** 2)))
    x, ok = qgt.refined_solve(slow, b)
    assert not bool(ok)
    assert len(applied) == 1  # the single-precision solve, whose residual is 0.6 of b's
    # with the matrix itself, the same loop converges
    applied.clear()
    assert bool(qgt.refined_solve(refine, b)[1]) and 2 <= len(applied) < qgt.REFINE_MAXITER


def test_when_refinement_fails_the_double_precision_solve_answers(refine_every_size, monkeypatch):
    """No refinement allowed: the float32 solution misses the test, and solve_shifted's float64
    Cholesky (and below it the pseudo-inverse) gives the answer, as without refinement."""
    qgt = refine_every_size
    monkeypatch.setattr(qgt, "REFINE_MAXITER", 0)
    n = 50
    a = _ill_conditioned(n, 1e3, 3) + 1e-3 * np.eye(n)
    b = jnp.asarray(np.random.default_rng(4).standard_normal(n))
    m = jnp.asarray(a)
    refine = _refinement(qgt, a, 1e-3)
    assert not bool(qgt.refined_solve(refine, b)[1])
    x, fell_back, refined = qgt.solve_shifted(lambda: m, b, "cholesky", refine=refine)
    assert not bool(fell_back) and not bool(refined)
    np.testing.assert_allclose(np.asarray(x), np.linalg.solve(a, np.asarray(b)), rtol=1e-11)
    # a singular matrix without shift: refinement not tried, Cholesky fails, the pseudo-inverse answers
    test_a_singular_factored_kernel_falls_back_on_the_whole_kernel()


def test_a_step_whose_refinement_was_skipped_says_so(refine_every_size):
    """solve_refined_missed: 1 where the system was refinable but the double-precision solve
    answered (here a shift so small that the trace guard skips the attempt), 0 where the
    refinement answered; the answer is the same either way."""
    from nqs_sweep.mc.jacobian import FactoredJacobian

    rows = 40
    u = jnp.tanh(jax.random.normal(jax.random.key(40), (rows, 9)))
    v = jnp.sign(jax.random.normal(jax.random.key(41), (rows, 10)))
    jac = FactoredJacobian([(u, v), (u, None)], jnp.full(rows, 1 / rows))
    e_t = jax.random.normal(jax.random.key(42), (rows,))
    o_t = np.asarray(jac.dense())
    for shift, missed in ((1e-3, False), (1e-6, True)):  # 1 + trace/shift: 4e4, 4e7
        x, flags = natural_gradient(jac, e_t, jac.rmatvec(e_t), jnp.asarray(shift), "minsr", "cholesky")
        assert bool(flags["solve_refined_missed"]) is missed and not bool(flags["solver_fallback"])
        direct = o_t.T @ np.linalg.solve(o_t @ o_t.T + shift * np.eye(rows), np.asarray(e_t))
        np.testing.assert_allclose(np.asarray(x), direct, rtol=1e-6)  # cond(K + εI) up to ~1e7
    # too small to refine on this backend's own threshold: nothing missed
    refine_every_size.REFINED_MIN_SIZE[jax.default_backend()] = 10**6
    assert not bool(natural_gradient(jac, e_t, jac.rmatvec(e_t), 1e-6, "minsr", "cholesky")[1]["solve_refined_missed"])
