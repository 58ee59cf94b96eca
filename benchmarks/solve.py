"""The dense solve's parts on a workload's kernel: LAPACK's trsm against blocked substitution for
the triangular solves, and how many refinements the mixed-precision solve needs as the shift
shrinks (optim.qgt: SUBSTITUTION_BLOCK, REFINE_MAX_CONDITION; docs/performance.md).

    python -m benchmarks.solve --workload W1 --threads 1
    python -m benchmarks.solve --workload W0 --steps 1 --shifts 1e-2,1e-4   # quick

The kernel is the one the step factors after ``--steps`` optimisation steps. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def build_parser() -> argparse.ArgumentParser:
    from benchmarks.workloads import WORKLOADS

    p = argparse.ArgumentParser(prog="python -m benchmarks.solve", description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", default="W1", choices=[n for n, w in WORKLOADS.items() if not w.gpu_only])
    p.add_argument("--threads", type=int, default=None, help="every pool's threads (default: the library defaults)")
    p.add_argument("--steps", type=int, default=100, help="optimisation steps before the kernel is taken")
    p.add_argument("--repeats", type=int, default=30, help="timed calls per variant, interleaved")
    p.add_argument("--shifts", default="1e-2,3e-3,1e-3,3e-4,1e-4,3e-5", help="comma-separated diagonal shifts")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from nqs_sweep import threads

    if args.threads is not None:
        threads.configure(args.threads)
    import jax
    import jax.numpy as jnp
    import numpy as np

    from benchmarks.workloads import WORKLOADS
    from nqs_sweep.mc.estimate import draw_sample
    from nqs_sweep.mc.estimators import centred_jacobian, local_energies
    from nqs_sweep.mc.jacobian import in_float64
    from nqs_sweep.optim import qgt
    from nqs_sweep.optim.step import init_state, make_step
    from nqs_sweep.problem import build_problem
    from nqs_sweep.spec import parse_spec

    spec = parse_spec(WORKLOADS[args.workload].spec(0))
    problem = build_problem(spec)
    hyper, ansatz = problem.hyper, problem.ansatz
    state, step, key = init_state(problem, jax.random.key(0)), make_step(problem), jax.random.key(1)
    for i in range(args.steps):
        state, _ = step(state, jax.random.fold_in(key, i), hyper)
    sample = jax.jit(lambda th, ch, k: draw_sample(problem, th, ch, k, hyper, spec.sampler.n_samples)[0].configs)
    configs = sample(state.theta, state.chains, key).reshape(-1, spec.n_sites)
    e_loc = local_energies(hyper.ham, ansatz, state.theta, configs)
    weights = jnp.full(e_loc.shape, 1.0 / e_loc.size)
    jac, e_t = centred_jacobian(ansatz, state.theta, configs, e_loc, weights, real_only=ansatz.real_output)
    jac, e_t = in_float64(jac), e_t.astype(jnp.float64)  # as the step solves a float32 network
    kernel = np.asarray(jac.kernel(0.0))
    n = kernel.shape[0]
    evals = np.linalg.eigvalsh(kernel)
    report = {
        "workload": args.workload,
        "steps": args.steps,
        "n": n,
        "pools": threads.summary_columns(),
        "lambda_max": float(evals[-1]),
        "trace": float(evals.sum()),
        "frobenius": float(np.sqrt(np.sum(evals**2))),
    }

    # Triangular solves: p pairs after one float32 factorisation, p = 1 and 9; a pair's cost is
    # the difference over 8 (the factorisation and the transfers cancel).
    k32 = jnp.asarray(kernel + 1e-2 * np.eye(n), jnp.float32)
    r32 = jnp.asarray(np.asarray(e_t), jnp.float32)
    backend = jax.default_backend()
    blocked = qgt.SUBSTITUTION_BLOCK.get(backend)

    def pairs(block, p):
        def f(m, r):
            solve = qgt._triangular_solves(jax.lax.linalg.cholesky(m.T, symmetrize_input=False), block)
            x = r
            for _ in range(p):
                x = x + 1e-3 * solve(x)
            return x

        return jax.jit(f)

    variants = {("trsm", p): pairs(None, p) for p in (1, 9)} | {("blocked", p): pairs(blocked, p) for p in (1, 9)}
    for fn in variants.values():
        jax.block_until_ready(fn(k32, r32))
    times = {v: [] for v in variants}
    for _ in range(args.repeats):
        for v, fn in variants.items():
            t = time.perf_counter()
            jax.block_until_ready(fn(k32, r32))
            times[v].append(time.perf_counter() - t)
    med = {v: float(np.median(t)) for v, t in times.items()}
    agree = np.linalg.norm(np.asarray(variants[("trsm", 9)](k32, r32) - variants[("blocked", 9)](k32, r32)))
    report["substitution"] = {
        "block": blocked,
        "ms_per_pair_trsm": round((med[("trsm", 9)] - med[("trsm", 1)]) / 8 * 1e3, 3),
        "ms_per_pair_blocked": round((med[("blocked", 9)] - med[("blocked", 1)]) / 8 * 1e3, 3),
        "difference_rel": float(agree / np.linalg.norm(np.asarray(variants[("trsm", 9)](k32, r32)))),
    }

    # Refinements as the shift shrinks: the residual after each, against refined_solve's test.
    rows = []
    for shift in (float(s) for s in args.shifts.split(",")):
        refine = qgt.kernel_refinement(jac, jnp.asarray(shift), jnp.float64)
        low, upper_squares = refine.single()
        tol = np.sqrt(n) * np.finfo(np.float64).eps * np.sqrt(2 * float(upper_squares))
        solve = qgt._triangular_solves(jax.lax.linalg.cholesky(low.T, symmetrize_input=False), blocked)
        x = solve(e_t.astype(jnp.float32)).astype(jnp.float64)
        residuals = []
        for _ in range(qgt.REFINE_MAXITER + 1):
            r = e_t - refine.apply(x)
            residuals.append(float(jnp.linalg.norm(r) / jnp.linalg.norm(x)))
            x = x + solve(r.astype(jnp.float32)).astype(jnp.float64)
        needed = next((k for k, res in enumerate(residuals) if res <= tol), None)
        rows.append(
            {
                "shift": shift,
                "cond": float((evals[-1] + shift) / (max(evals[0], 0.0) + shift)),
                "trace_bound": float(1 + refine.trace / shift),
                "attempted": bool(qgt.worth_refining(refine)),
                "refinements_needed": needed,
                "residuals": [float(f"{res:.1e}") for res in residuals[:8]],
            }
        )
    report["refinement"] = rows
    print(json.dumps(report))
    for row in rows:
        print(
            f"shift {row['shift']:g}: cond {row['cond']:.1e}, 1 + trace/shift {row['trace_bound']:.1e}"
            f" ({'attempted' if row['attempted'] else 'skipped'}), refinements needed: {row['refinements_needed']}",
            file=sys.stderr,
        )
    sub = report["substitution"]
    print(
        f"a pair of triangular solves, n = {n}: trsm {sub['ms_per_pair_trsm']} ms, blocks of {blocked}: "
        f"{sub['ms_per_pair_blocked']} ms",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
