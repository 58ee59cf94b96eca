"""How precise is the energy of one state from chains of |ψ|^p (sampler.power) against chains of |ψ|²?

    python -m benchmarks.reweighting RUN_DIR                       # p = 1, 40 replicas of 4096 samples
    python -m benchmarks.reweighting RUN_DIR --power 0.5 --replicas 20 --samples 1024

RUN_DIR is a finished VMC run (its spec and final parameters). Each replica draws fresh chains
(the run's chain count, move and sweep size, twice the run's discarded sweeps) and estimates the
energy with sampler.power 2 and with --power. Printed per power: the spread of the replicas'
means (what the error bar should be), the mean reported error bar, the mean's offset from the
state's exact energy where the sector is small enough to enumerate, and the number of replicas
more than four reported bars away. docs/accuracy.md quotes it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

# Past this many basis states the exact energy of the state is not computed (the offset is skipped).
ENUMERATION_MAX = 2**16


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--power", type=float, default=1.0, help="the power compared with 2")
    parser.add_argument("--replicas", type=int, default=40)
    parser.add_argument("--samples", type=int, default=4096, help="samples per replica (a multiple of the run's chains)")
    parser.add_argument("--threads", type=int, default=1)
    return parser


def replicas(run_dir: str, power: float, n_replicas: int, n_samples: int) -> dict:
    """{'means': (R,), 'errors': (R,), 'exact': float | None} for chains of |ψ|^power on the run's final state."""
    import jax
    import jax.numpy as jnp

    from nqs_sweep.api import load
    from nqs_sweep.mc.estimate import make_hyper, sample_stats
    from nqs_sweep.mc.estimators import local_energies
    from nqs_sweep.mc.sampler import exact_sample, init_chains, metropolis_sample
    from nqs_sweep.physics import hilbert
    from nqs_sweep.problem import build_problem

    result = load(run_dir)
    spec, sa = result.spec, result.spec.sampler
    if sa.kind != "metropolis":
        raise SystemExit(f"{run_dir}: sampler.kind is {sa.kind}; the comparison is between Metropolis chains")
    if n_samples % sa.n_chains:
        raise SystemExit(f"--samples must be a multiple of the run's {sa.n_chains} chains; got {n_samples}")
    problem, hyper = build_problem(spec), make_hyper(spec)
    ansatz = problem.ansatz
    theta = jnp.asarray(result.theta)

    @jax.jit
    def one(key):
        chains = init_chains(jax.random.fold_in(key, 1), ansatz, theta, sa.n_chains, spec.n_sites, spec.sector, ansatz.real_dtype)
        sample, _ = metropolis_sample(
            ansatz,
            theta,
            chains,
            key,
            n_per_chain=n_samples // sa.n_chains,
            n_discard=2 * sa.n_discard,
            sweep_size=sa.sweep_size,
            move=sa.move,
            exchange_bonds=hyper.ham.exch_bonds,
            power=power,
        )
        e_loc = local_energies(hyper.ham, ansatz, theta, sample.configs.reshape(-1, spec.n_sites))
        stats = sample_stats(sample, e_loc)
        return jnp.real(stats.mean), stats.error

    out = np.array([[float(v) for v in one(jax.random.key(1000 + r))] for r in range(n_replicas)])
    exact = None
    if hilbert.hilbert_dim(spec.n_sites, spec.sector) <= ENUMERATION_MAX:
        states = jnp.asarray(hilbert.all_states(spec.n_sites, spec.sector), ansatz.real_dtype)
        weights = exact_sample(ansatz, theta, states).weights
        exact = float(jnp.sum(weights * jnp.real(local_energies(hyper.ham, ansatz, theta, states))))
    return {"means": out[:, 0], "errors": out[:, 1], "exact": exact}


def line(power: float, r: dict, seconds: float) -> str:
    means, errors = r["means"], r["errors"]
    spread = means.std(ddof=1)
    text = f"power {power:g}: spread of means {spread:.4g}, mean reported error {errors.mean():.4g}"
    if r["exact"] is not None:
        offset, bar = means.mean() - r["exact"], spread / np.sqrt(means.size)
        far = int(np.sum(np.abs(means - r["exact"]) > 4 * errors))
        text += f", mean - exact {offset:+.4g} ± {bar:.2g}, beyond 4 bars {far}/{means.size}"
    return text + f" ({seconds:.0f} s)"


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from nqs_sweep import threads

    threads.configure(args.threads)
    for power in (2.0, args.power):
        start = time.perf_counter()
        r = replicas(args.run_dir, power, args.replicas, args.samples)
        print(line(power, r, time.perf_counter() - start), flush=True)


if __name__ == "__main__":
    main()
