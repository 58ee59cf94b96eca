"""Measurements of a state beyond its energy: spin correlations, structure factor, staggered
magnetisation, dimer correlations, Pauli strings, Rényi-2 entanglement.

A spec asks for them by name, with options:

    measurements:
      correlations: {components: [zz, xx]}
      structure_factor: {}
      renyi2: {regions: blocks}

(or a list of names, with default options). Each registered measurement (measure/base.py) gives
rows (argument, x) with a Monte Carlo estimate and error bar, and the same rows' exact values on a
state vector. The ground-state run measures them on a fresh sample at its end
(measurements.parquet); a study joins the exact values from its Lanczos references.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jax
import numpy as np
import pandas as pd

from nqs_sweep.measure import renyi, spin  # noqa: F401  (they register themselves)
from nqs_sweep.measure.base import FLAGS, MEASUREMENTS, Context, Measurement, Row, register_measurement

__all__ = ["MEASUREMENTS", "Measurement", "MeasurementSpec", "Row", "register_measurement"]

TABLE = "measurements.parquet"
# The exact ground state beside an exact reference's exact.parquet (nqs-sweep exact --vector).
STATE_FILE = "ground_state.npz"
COLUMNS = ["measurement", "argument", "x", "value", "error", "exact", "flag"]
# Exact values come from a full-space vector: 2^20 amplitudes (16 MiB complex) at most.
MAX_EXACT_SITES = 20


@dataclass(frozen=True)
class MeasurementSpec:
    name: str
    options_json: str  # the validated options, as JSON: the spec stays hashable

    @property
    def options(self) -> dict[str, Any]:
        return json.loads(self.options_json)


def parse_measurements(raw: Any, lattice, sector: str) -> tuple[MeasurementSpec, ...]:
    """A list of names, or a mapping name -> options ({}, null or true for the defaults)."""
    from nqs_sweep.spec import SpecError

    names = ", ".join(MEASUREMENTS)
    if isinstance(raw, list):
        for i, name in enumerate(raw):
            if not isinstance(name, str):
                raise SpecError(f"measurements[{i}]", f"must be a measurement name ({names}); got {name!r}")
        if len(set(raw)) < len(raw):
            raise SpecError("measurements", f"lists a measurement twice: {raw}")
        raw = dict.fromkeys(raw)
    if not isinstance(raw, dict):
        raise SpecError("measurements", f"must be a list of names or a mapping of names to options ({names}); got {raw!r}")
    out = []
    for name, options in raw.items():
        if name not in MEASUREMENTS:
            raise SpecError(f"measurements.{name}", f"unknown measurement; allowed: {names}")
        if options is None or options is True:
            options = {}
        if not isinstance(options, dict):
            raise SpecError(f"measurements.{name}", f"must be a mapping of options, or {{}} for the defaults; got {options!r}")
        parsed = MEASUREMENTS[name].parse(options, lattice.build(), sector, f"measurements.{name}")
        out.append(MeasurementSpec(name, json.dumps(parsed, sort_keys=True)))
    return tuple(out)


def steps_on(lattice, measurements: tuple[MeasurementSpec, ...]) -> tuple[tuple[Measurement, dict, list[Row]], ...]:
    """(measurement, options, rows) of each request on a built lattice."""
    return tuple((MEASUREMENTS[m.name], m.options, MEASUREMENTS[m.name].rows(lattice, m.options)) for m in measurements)


@lru_cache(maxsize=64)
def plan(lattice, measurements: tuple[MeasurementSpec, ...]) -> tuple[tuple[Measurement, dict, list[Row]], ...]:
    """steps_on for a lattice spec, cached: the tables ask for the same rows many times."""
    return steps_on(lattice.build(), measurements)


def make_measure(problem):
    """Jitted: a fresh sample of sampler.n_samples_eval configurations, and every measurement of
    the problem (nqs_sweep.problem) on it: {name: Estimates}."""
    from nqs_sweep.mc.estimate import draw_sample, expectation_weights

    p = problem
    steps = steps_on(p.lattice, p.measurements)

    def measure(theta, chains, key, hyper):
        sample, _ = draw_sample(p, theta, chains, key, hyper, p.sampler.n_samples_eval)
        configs = sample.configs.reshape(-1, p.n_sites)
        weights = expectation_weights(sample, configs.shape[0], jax.numpy.real(configs).dtype)
        ctx = Context(p.lattice, p.marshall_sign, p.sector == "zero_magnetization", p.ansatz, theta, sample, configs, weights)
        return {m.name: m.estimate(ctx, options, rows) for m, options, rows in steps}

    return jax.jit(measure)


def save_state(path, vector: np.ndarray, marshall_sign: bool) -> None:
    """The exact ground state (full space) and the Marshall frame it is written in."""
    from nqs_sweep.jobs.checkpoint import atomic_write_bytes

    atomic_write_bytes(path, lambda f: np.savez(f, vector=vector, marshall_sign=np.array(marshall_sign)))


def load_state(path) -> tuple[np.ndarray, bool] | None:
    """(vector, marshall_sign) of a saved ground state; None without the file."""
    from pathlib import Path

    if not Path(path).is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return np.asarray(data["vector"]), bool(data["marshall_sign"])


def exact_values(spec, vector: np.ndarray, vector_marshall: bool) -> dict[str, np.ndarray]:
    """{name: (R,)} the spec's measurements on a state vector (its sector's basis, or the full
    space), given in the Marshall frame vector_marshall."""
    from nqs_sweep.measure.pauli import full_vector

    lattice = spec.lattice.build()
    v = full_vector(np.asarray(vector), spec.n_sites, spec.sector)
    v = v / np.linalg.norm(v)
    steps = plan(spec.lattice, spec.measurements)
    return {m.name: m.exact(v, lattice, vector_marshall, options, rows) for m, options, rows in steps}


def labels(spec) -> list[tuple[str, int, str, float]]:
    """(measurement, r, argument, x) of every row of the spec's measurements, in table order; r is
    the row's index within its measurement's estimates."""
    return [
        (m.name, r, row.argument, row.x) for m, _, rows in plan(spec.lattice, spec.measurements) for r, row in enumerate(rows)
    ]


def flat_exact(spec, vector: np.ndarray, vector_marshall: bool) -> dict[str, float]:
    """'name: argument' -> exact value; {} past MAX_EXACT_SITES (the t-VMC trajectory's columns)."""
    if not spec.measurements or spec.n_sites > MAX_EXACT_SITES:
        return {}
    values = exact_values(spec, vector, vector_marshall)
    return {f"{name}: {argument}": float(values[name][r]) for name, r, argument, _ in labels(spec)}


def table(spec, estimates: dict | None, exact: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """The measurements table of a point: a row per (measurement, argument), with the point's
    coordinates. ``estimates`` None: the rows with NaN values (a failed point)."""
    from nqs_sweep.tables.columns import coordinates

    coords = coordinates(spec)
    records = []
    for m, _options, rows in plan(spec.lattice, spec.measurements):
        est = None if estimates is None else jax.device_get(estimates[m.name])
        ex = None if exact is None else exact.get(m.name)
        for r, row in enumerate(rows):
            records.append(
                {
                    **coords,
                    "measurement": m.name,
                    "argument": row.argument,
                    "x": row.x,
                    "value": float("nan") if est is None else float(est.mean[r]),
                    "error": float("nan") if est is None else float(est.error[r]),
                    "exact": float("nan") if ex is None else float(ex[r]),
                    "flag": "" if est is None else FLAGS[int(est.flag[r])],
                }
            )
    return pd.DataFrame(records, columns=[*coords, *COLUMNS])
