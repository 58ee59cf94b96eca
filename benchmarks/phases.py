"""Where one optimisation step of a workload spends its time, phase by phase.

    python -m benchmarks.phases --workload W1 --threads 1
    python -m benchmarks.phases --spec config/j1j2_4x4.yaml --threads 1   # any point spec

Each phase is compiled on its own and timed on the same inputs (median of --repeats calls):
sampling (the Metropolis sweeps of one step), local energies, the centred Jacobian with the
force Õᵀẽ, the kernel (sample space) or QGT (parameter space) matrix, and the dense solve on it
with the map back to parameters. The full step is timed beside them; the
phases do not add up to it exactly, since XLA fuses across their borders inside the step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    from benchmarks.workloads import WORKLOADS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", default="W1", choices=[n for n, w in WORKLOADS.items() if not w.gpu_only])
    p.add_argument("--spec", default=None, help="a point spec (YAML) to time instead of a workload")
    p.add_argument("--threads", default="auto", help="threads of every pool, or auto (library defaults)")
    p.add_argument("--repeats", type=int, default=20)
    return p


def _threads(p: argparse.ArgumentParser, text: str) -> int | None:
    if text == "auto":
        return None
    if not (text.isdigit() and int(text) >= 1):
        p.error(f"--threads: expected auto or a whole number >= 1; got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    n_threads = _threads(p, args.threads)

    from nqs_sweep import threads

    if n_threads is not None:
        threads.configure(n_threads)

    import jax
    import jax.numpy as jnp

    from benchmarks.timing import median_seconds
    from benchmarks.workloads import WORKLOADS
    from nqs_sweep.mc.estimate import draw_sample
    from nqs_sweep.mc.estimators import centred_jacobian, local_energies
    from nqs_sweep.mc.jacobian import in_float64
    from nqs_sweep.optim.qgt import kernel_refinement, qgt_refinement, refinable, solve_shifted
    from nqs_sweep.optim.step import init_state, make_step
    from nqs_sweep.problem import build_problem
    from nqs_sweep.spec import load_spec, parse_spec

    if args.spec is not None:
        spec = load_spec(args.spec)
        label = args.spec
    else:
        spec = parse_spec(WORKLOADS[args.workload].spec(0))
        label = args.workload
    problem = build_problem(spec)
    ansatz, hyper = problem.ansatz, problem.hyper
    state = init_state(problem, jax.random.key(0))
    step = make_step(problem)
    key = jax.random.key(1)
    # A few steps first, so the chains and parameters are those of a running optimisation.
    for i in range(5):
        state, _ = step(state, jax.random.fold_in(key, i), hyper)
    theta, chains = state.theta, state.chains
    opt = spec.optimizer

    sample_fn = jax.jit(lambda th, ch, k: draw_sample(problem, th, ch, k, hyper, spec.sampler.n_samples)[0].configs)
    configs = sample_fn(theta, chains, key).reshape(-1, spec.n_sites)
    eloc_fn = jax.jit(lambda th, x: local_energies(hyper.ham, ansatz, th, x))
    e_loc = eloc_fn(theta, configs)
    weights = jnp.full(e_loc.shape, 1.0 / e_loc.size)

    def centred(th, x, e):
        jac, e_t = centred_jacobian(ansatz, th, x, e, weights, real_only=ansatz.real_output)
        if e_t.dtype == jnp.float32:  # as the step: a single-precision network is solved in float64
            jac, e_t = in_float64(jac), e_t.astype(jnp.float64)
        return jac, e_t

    def jac_force(th, x, e):
        jac, e_t = centred(th, x, e)
        return jac, e_t, jac.rmatvec(e_t)

    jac_fn = jax.jit(jac_force)
    jac, e_t, force = jac_fn(theta, configs, e_loc)
    sample_space = opt.kind == "minsr" or jac.n_params > e_t.size
    shift = jnp.asarray(opt.diag_shift.init)
    # the step's mixed-precision path (optim.qgt.refined_solve) where it applies
    refine = refinable(e_t.size if sample_space else jac.n_params, e_t.dtype, opt.solver)

    def kernel(th, x, e):
        # The Jacobian is rebuilt inside: a factored one passed into jit would arrive with its
        # repeated factors as separate arrays, and its kernel would form every Gram matrix twice.
        j = centred(th, x, e)[0]
        if refine:
            return (kernel_refinement(j, shift, e_t.dtype) if sample_space else qgt_refinement(j.dense(), shift)).single()
        if sample_space:  # what the step's Cholesky factorises (the pseudo-inverse needs all of it)
            return j.kernel(shift, upper_only=opt.solver != "pinv")
        return j.dense().T @ j.dense() + shift * jnp.eye(j.n_params)

    kernel_fn = jax.jit(kernel)
    matrix = kernel_fn(theta, configs, e_loc)

    def solve(j, a, e, f):
        # the dense solve on the matrix the previous phase built (refined against the Jacobian where
        # the step refines), and the map back to parameters
        r, m = None, a
        if refine:  # a: the kernel phase's (matrix, Σ of its upper triangle's squares)
            r = kernel_refinement(j, shift, e.dtype) if sample_space else qgt_refinement(j.dense(), shift)
            r, m = r._replace(single=lambda: a), a[0]
        if sample_space:
            return j.rmatvec(solve_shifted(lambda: m, e, opt.solver, refine=r)[0])
        return solve_shifted(lambda: m, f, opt.solver, refine=r)[0]

    solve_fn = jax.jit(solve)

    phases = {
        "step": lambda: step(state, key, hyper),
        "sampling": lambda: sample_fn(theta, chains, key),
        "local energies": lambda: eloc_fn(theta, configs),
        "jacobian + force": lambda: jac_fn(theta, configs, e_loc),
        "kernel" if sample_space else "QGT": lambda: kernel_fn(theta, configs, e_loc),
        "solve (Cholesky)": lambda: solve_fn(jac, matrix, e_t, force),  # float32 and refined where the step is
    }
    times = {}
    for name, fn in phases.items():
        jax.block_until_ready(fn())  # compile
        times[name] = median_seconds(fn, args.repeats)
    report = {
        "workload": label,
        "threads": args.threads,
        "pools": threads.summary_columns(),
        "affinity_cores": threads.available_cores(),
        "omp_env": os.environ.get("OMP_NUM_THREADS"),
        "solve": ("float32 Cholesky refined in float64" if refine else "float64 Cholesky")
        if opt.solver == "cholesky"
        else opt.solver,
        "ms": {k: round(v * 1e3, 2) for k, v in times.items()},
    }
    print(json.dumps(report))
    for name, t in times.items():
        print(f"{name:>18}: {t * 1e3:8.2f} ms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
