"""Where the residual CNN's optimisation step goes, with its convolution's derivative rule or lax.conv's own.

    python -m benchmarks.resnet_step --rule custom [--no-project] [--threads 2]

The network of docs/accuracy.md (J1-J2 on the 4x4 lattice at J2 = 0.5, resnet with 8 channels,
2 blocks, kernel 3, complex128, Marshall sign, 1024 samples in 64 chains, projected onto k = 0,
A1, even spin parity unless --no-project, MinSR): the per-sample Jacobian on 1024 random
configurations (minimum of 2 calls after compilation), then two optimisation steps, the first
of which compiles. ``--rule lax`` differentiates lax.conv directly (the grouped-convolution
path the custom rule replaced); both draw the same sample and give the same energy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rule", choices=["custom", "lax"], default="custom")
    p.add_argument("--no-project", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    from nqs_sweep import threads

    threads.configure(args.threads)
    import jax

    from nqs_sweep.mc.estimators import log_derivatives
    from nqs_sweep.models import resnet
    from nqs_sweep.optim.step import init_state, make_step
    from nqs_sweep.physics import hilbert
    from nqs_sweep.problem import build_problem
    from nqs_sweep.spec import parse_spec

    if args.rule == "lax":
        resnet._conv = resnet._valid_conv  # traced after this line: the step below uses it
    raw = {
        "model": {"name": "j1j2", "J1": 1.0, "J2": 0.5},
        "lattice": {"kind": "square", "L": 4},
        "ansatz": {"name": "resnet", "features": 8, "layers": 2, "kernel": 3, "dtype": "complex128"},
        "marshall_sign": True,
        "sampler": {"kind": "metropolis", "move": "exchange", "n_samples": 1024, "n_chains": 64},
        "optimizer": {"kind": "minsr", "learning_rate": 0.02, "diag_shift": 0.01, "n_iter": 10},
    }
    if not args.no_project:
        raw["symmetry"] = {"momentum": [0, 0], "point_group": "A1", "spin_flip": 1, "project": "train"}
    problem = build_problem(parse_spec(raw))
    ansatz = problem.ansatz
    theta = ansatz.init(jax.random.key(0))
    configs = hilbert.random_states(jax.random.key(1), 1024, 16, "zero_magnetization")
    jacobian = jax.jit(lambda th, x: log_derivatives(ansatz, th, x))
    jax.block_until_ready(jacobian(theta, configs))
    times = []
    for _ in range(2):
        start = time.perf_counter()
        jax.block_until_ready(jacobian(theta, configs))
        times.append(time.perf_counter() - start)

    step = make_step(problem)
    state = init_state(problem, jax.random.key(0))
    start = time.perf_counter()
    state, _ = jax.block_until_ready(step(state, jax.random.key(1), problem.hyper))
    first = time.perf_counter() - start
    state, metrics = jax.block_until_ready(step(state, jax.random.key(2), problem.hyper))
    second = time.perf_counter() - start - first
    report = {
        "rule": args.rule,
        "projected": not args.no_project,
        "threads": args.threads,
        "jacobian_1024_s": round(min(times), 3),
        "first_step_s": round(first, 1),
        "second_step_s": round(second, 1),
        "energy": round(float(metrics["energy"]), 4),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
