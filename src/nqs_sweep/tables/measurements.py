"""The study's measurements table: every point's measurements.parquet, with the exact values of
the same rows on its reference's ground state (exact/<reference>/ground_state.npz) filled in.

A point runs without waiting for its Lanczos job, so its own table has no exact column; the
join computes it here, from the point's spec (which rows) and the reference's vector.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nqs_sweep import measure
from nqs_sweep.spec import load_spec


def point_measurements(run_dir: Path, reference_dir: Path | None) -> pd.DataFrame:
    """One point's table, its exact column from the reference's ground state where there is one."""
    df = pd.read_parquet(run_dir / measure.TABLE)
    state = None if reference_dir is None else measure.load_state(reference_dir / measure.STATE_FILE)
    if state is None or df.empty:
        return df
    spec = load_spec(run_dir / "spec.yaml")
    exact = measure.exact_values(spec, *state)
    steps = measure.plan(spec.lattice, spec.measurements)
    values = {(m.name, row.argument): exact[m.name][r] for m, _, rows in steps for r, row in enumerate(rows)}
    df["exact"] = [values.get(key, float("nan")) for key in zip(df["measurement"], df["argument"])]
    return df


def measurements_table(results: str | Path, references: dict[str, str | None]) -> pd.DataFrame:
    """{point path: reference path or None} under a study's results directory -> one table."""
    results = Path(results)
    frames = []
    for point, ref in references.items():
        run_dir = results / "vmc" / point
        if not (run_dir / measure.TABLE).exists():  # a point that failed before measuring
            continue
        frames.append(point_measurements(run_dir, None if ref is None else results / "exact" / ref))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=measure.COLUMNS)
