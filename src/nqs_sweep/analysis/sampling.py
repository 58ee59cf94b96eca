"""Sampling efficiency of a finished run: effective samples per second, per sampler.

On the run's final parameters, every sampler that applies draws a fresh sample of the
same size: Metropolis (the run's moves, chains and burn-in) always, and direct sampling
when the ansatz is autoregressive. One untimed draw first compiles the sampler and
brings the chains to equilibrium (a run that was not sampled by Metropolis left them
where they started). The next draws are timed alone (the local energies are not part
of the cost compared), and the
local energies of the draw give τ_corr and R̂ (nqs_sweep.mc.stats). The effective sample
size is n / (1 + 2 τ_corr), with τ_corr = 0 for independent samples, so
effective samples per second = n / ((1 + 2 τ_corr) · seconds per draw).
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from nqs_sweep.analysis.spectrum import load_run, run_status, unfinished_row
from nqs_sweep.mc.estimate import draw_sample
from nqs_sweep.mc.estimators import local_energies
from nqs_sweep.mc.moves import move_for_sector
from nqs_sweep.mc.stats import chain_stats
from nqs_sweep.tables.columns import coordinates

SAMPLING_TABLE = "sampling.parquet"


def _timed(fn, *args, repeats: int) -> tuple[object, float]:
    """(output of the first call, mean seconds of ``repeats`` further calls)."""
    out = jax.block_until_ready(fn(*args))
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn(*args))
    return out, (time.perf_counter() - start) / repeats


def sampling_table(run: Path, n_samples: int | None = None, repeats: int = 3, seed: int = 2) -> pd.DataFrame:
    """One row per sampler (draw_sampler): seconds per draw, τ_corr, R̂, acceptance, effective
    samples per second; a single NaN row (with the run's status) when the run failed or diverged."""
    status = run_status(Path(run))
    if status in ("failed", "diverged"):
        return unfinished_row(run, {"draw_sampler": "none", "effective_samples_per_s": float("nan"), "status": status})
    spec, problem, theta, chains = load_run(run)
    ansatz, hyper = problem.ansatz, problem.hyper
    n = n_samples or spec.sampler.n_samples_eval
    n -= n % spec.sampler.n_chains
    k_burn, key = jax.random.split(jax.random.key(seed))
    energies = jax.jit(lambda th, x: local_energies(hyper.ham, ansatz, th, x))  # one compile for every sampler
    rows = []
    for kind in ("metropolis", "direct") if ansatz.is_autoregressive else ("metropolis",):
        # The run's sampler settings with the kind changed: same chains, same sample size; Metropolis
        # moves that keep the run's sector (a direct-sampled run's spec need not name them).
        as_kind = problem.with_sampler(kind=kind, move=move_for_sector(problem.sector))
        draw = jax.jit(partial(draw_sample, as_kind), static_argnums=4)
        _, burnt_in = draw(theta, chains, k_burn, hyper, n)  # compiles, and equilibrates the chains
        (sample, _), seconds = _timed(draw, theta, burnt_in, key, hyper, n, repeats=repeats)
        e_loc = energies(theta, sample.configs.reshape(-1, spec.n_sites))
        stats = chain_stats(e_loc.reshape(sample.configs.shape[:2]))
        tau = float(stats.tau_corr)
        rows.append(
            {
                **coordinates(spec),  # 'sampler' and 'n_samples' there are the run's own
                "draw_sampler": kind,
                "draw_size": n,
                "n_chains": spec.sampler.n_chains,
                "seconds_per_draw": seconds,
                "tau_corr": tau,
                "r_hat": float(stats.r_hat),
                "acceptance": float(sample.acceptance),
                "energy": float(np.real(stats.mean)),
                "energy_error": float(stats.error),
                "n_effective": n / (1 + 2 * tau),
                "effective_samples_per_s": n / ((1 + 2 * tau) * seconds),
                "device": jax.devices()[0].platform,
                "status": status,
            }
        )
    return pd.DataFrame(rows)
