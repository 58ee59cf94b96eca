"""One workload in nqs-sweep: seconds per step, samples per second, memory, final energy."""

from __future__ import annotations

import time

import jax
import numpy as np

from benchmarks.timing import mean_seconds_per_call, median_seconds, result_row
from benchmarks.workloads import Workload
from nqs_sweep.mc.devices import peak_memory_mb
from nqs_sweep.mc.estimate import draw_sample
from nqs_sweep.optim.step import init_state, make_evaluate, make_step
from nqs_sweep.problem import build_problem
from nqs_sweep.spec import parse_spec


def run(w: Workload, n_steps: int, repeats: int, seed: int = 0) -> dict:
    raw = w.spec(seed)
    raw["sampler"]["n_samples_eval"] = w.eval_factor * w.n_samples
    spec = parse_spec(raw)
    problem = build_problem(spec)
    ansatz, hyper = problem.ansatz, problem.hyper
    step = make_step(problem)
    evaluate = make_evaluate(problem)
    k_init, k_run, k_eval = jax.random.split(jax.random.key(seed), 3)
    state = init_state(problem, k_init)

    t0 = time.perf_counter()
    state, _ = jax.block_until_ready(step(state, jax.random.fold_in(k_run, 0), hyper))
    compile_s = time.perf_counter() - t0

    it = iter(range(1, 10**9))

    def run_steps(k: int):
        nonlocal state
        for _ in range(k):
            state, _ = step(state, jax.random.fold_in(k_run, next(it)), hyper)
        return state.theta

    step_s = mean_seconds_per_call(run_steps, repeats)
    draw = jax.jit(lambda th, ch, k: draw_sample(problem, th, ch, k, hyper, spec.sampler.n_samples))
    jax.block_until_ready(draw(state.theta, state.chains, k_eval))
    sample_s = median_seconds(lambda: draw(state.theta, state.chains, k_eval), repeats)

    done = 1 + repeats
    jax.block_until_ready(run_steps(max(0, n_steps - done)))
    peak_mb = peak_memory_mb()  # of the optimisation; the final evaluation below is not a step
    stats = evaluate(state.theta, state.chains, k_eval, hyper).stats
    energy, error = np.real(stats.mean), stats.error
    samples_per_s = w.n_samples / sample_s
    return result_row("nqs-sweep", ansatz.n_params, compile_s, step_s, samples_per_s, peak_mb, energy, error, max(n_steps, done))
