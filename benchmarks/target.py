"""Check a finished run against an accuracy target: a relative error and a wall time.

    python -m benchmarks.target results/j1j2_4x4 --column rel_error_lanczos --max 1e-4 --seconds 1200

Exit status 0 when the run's summary meets both, 1 otherwise (what it read is printed either way).
`make accuracy-4x4` runs issue 19's 4x4 J1-J2 point and this check: 19 minutes on one thread, too
long for the test suite, so a separate target.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd


def check(run_dir: Path, column: str, maximum: float, seconds: float) -> tuple[bool, str]:
    row = pd.read_parquet(run_dir / "summary.parquet").iloc[0]
    if column not in row:
        return False, f"{run_dir}: the summary has no column {column!r} (columns: {', '.join(row.index)})"
    value, runtime = float(row[column]), float(row["runtime_s"])
    ok = math.isfinite(value) and value <= maximum and runtime <= seconds
    verdict = "meets" if ok else "misses"
    measured = f"{column} = {value:.3e} (target <= {maximum:g}), runtime {runtime:.0f} s (target <= {seconds:g} s)"
    return ok, f"{run_dir}: {measured}: {verdict} the target"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--column", default="rel_error")
    parser.add_argument("--max", type=float, required=True, dest="maximum")
    parser.add_argument("--seconds", type=float, default=math.inf)
    args = parser.parse_args(argv)
    ok, message = check(args.run_dir, args.column, args.maximum, args.seconds)
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
