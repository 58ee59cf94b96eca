"""Shared measurement helpers: medians of timed calls, peak memory of this process."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import jax

from nqs_sweep.threads import summary_columns as thread_pools


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of fn() over repeats calls, each waited on to completion."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def mean_seconds_per_call(run_k: Callable[[int], object], k: int) -> float:
    """Wall time of run_k(k), which makes k calls and returns their last result, divided by k.

    One block rather than k timed calls: each code's own per-call overhead between steps
    (NetKet's driver loop, our Python loop) is counted once per step, as in a real run.
    """
    t0 = time.perf_counter()
    jax.block_until_ready(run_k(k))
    return (time.perf_counter() - t0) / k


def device_name() -> str:
    dev = jax.devices()[0]
    return f"{dev.platform}:{getattr(dev, 'device_kind', dev.platform)} x{jax.device_count()}"


def result_row(
    code: str, n_params: int, compile_s: float, step_s: float, samples_per_s: float, peak_mb: float, energy, error, n_steps: int
) -> dict:
    """One row of the comparison table, measured in this process."""
    return {
        "code": code,
        "device": device_name(),
        "n_params": int(n_params),
        "compile_s": compile_s,
        "step_s": step_s,
        "samples_per_s": samples_per_s,
        "peak_mb": peak_mb,
        "energy": float(energy),
        "energy_error": float(error),
        "n_steps": n_steps,
        # the threads each pool of this process ran with (BLAS/LAPACK libraries, XLA's CPU pool)
        "pools": thread_pools(),
    }
