"""Points per hour: a whole study through Snakemake, as a user runs it, with where each point's time goes.

    python -m benchmarks.throughput                                   # the default study, cold then warm cache
    python -m benchmarks.throughput --study config/studies/throughput_2d.yaml --cores 2
    python -m benchmarks.throughput --repo /path/to/other/checkout    # the same study on another revision

The workflow is copied into a scratch directory and run with ``snakemake --cores N`` (the
workstation profile: jobs side by side, one thread each). "cold" starts from an empty JAX
compilation cache, "warm" reruns every point (results deleted) with the cache the cold run
left. Per point: the job's wall time (Snakemake's benchmark file), the first step (compilation
and set-up), the remaining steps, the final evaluation, and the rest (interpreter start,
imports, tables). Reported: points per hour, and per hour per core.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from nqs_sweep.threads import available_cores

ROOT = Path(__file__).resolve().parent.parent


def copy_workflow(repo: Path, dest: Path) -> None:
    shutil.copy(repo / "Snakefile", dest / "Snakefile")
    shutil.copytree(repo / "workflow", dest / "workflow")
    shutil.copytree(repo / "config", dest / "config")
    (dest / "profiles").symlink_to("workflow/profiles")


def run_study(repo: Path, work: Path, study: Path, cores: int, cache: Path, python: Path) -> float:
    """Wall seconds of the whole study (every point, reference, table and figure)."""
    env = {
        **os.environ,
        "JAX_COMPILATION_CACHE_DIR": str(cache),
        "PATH": f"{python.parent}:{os.environ['PATH']}",
    }
    env.pop("NQS_THREADS", None)  # the rules' threads decide
    # That checkout's solver, whatever the interpreter has installed (the rules import it from there).
    env["PYTHONPATH"] = os.pathsep.join([str(repo / "src"), env.get("PYTHONPATH", "")])
    cmd = [str(python.parent / "snakemake"), "--cores", str(cores), "--configfile", str(study)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall


def point_times(results: Path) -> pd.DataFrame:
    """One row per point: where its job's time went."""
    rows = []
    for summary in sorted(results.glob("vmc/**/summary.parquet")):
        run = summary.parent
        point = str(run.relative_to(results / "vmc"))
        s = pd.read_parquet(summary).iloc[0]
        h = pd.read_parquet(run / "history.parquet", columns=["wall_time_s"])["wall_time_s"].to_numpy()
        bench = results / "benchmarks" / "vmc" / f"{point}.tsv"
        job_s = float(pd.read_csv(bench, sep="\t")["s"].iloc[0]) if bench.is_file() else float("nan")
        rows.append(
            {
                "point": point,
                "job_s": job_s,
                "first_step_s": h[0],
                "steps_s": h[-1] - h[0],
                "step_ms": 1e3 * (h[-1] - h[0]) / max(len(h) - 1, 1),
                "final_eval_s": s["runtime_s"] - h[-1],
                "rest_s": job_s - s["runtime_s"],
                "threads": s.get("threads"),
                "threads_xla": s.get("threads_xla"),
                "threads_blas": s.get("threads_blas"),
            }
        )
    return pd.DataFrame(rows)


def measure(
    repo: Path, study: Path, cores: int, python: Path, keep: Path | None = None, phases: tuple[str, ...] = ("cold", "warm")
) -> list[dict]:
    name = yaml.safe_load(study.read_text())["study"]
    out = []
    with tempfile.TemporaryDirectory(prefix="nqs-throughput-") as tmp:
        work, cache = Path(tmp) / "work", Path(tmp) / "jax-cache"
        work.mkdir()
        copy_workflow(repo, work)
        for phase in phases:
            # warm alone still needs a cache: the first pass fills it and is not reported
            if phase == "warm" and "cold" not in phases and not cache.exists():
                run_study(repo, work, study.resolve(), cores, cache, python)
            shutil.rmtree(work / "results", ignore_errors=True)
            wall = run_study(repo, work, study.resolve(), cores, cache, python)
            points = point_times(work / "results" / name)
            n = len(points)
            row = {
                "study": name,
                "repo": str(repo),
                "cache": phase,
                "cores": cores,
                "points": n,
                "wall_s": wall,
                "points_per_hour": 3600 * n / wall,
                "points_per_hour_per_core": 3600 * n / wall / cores,
                "mean_job_s": points["job_s"].mean(),
                "mean_first_step_s": points["first_step_s"].mean(),
                "mean_steps_s": points["steps_s"].mean(),
                "mean_final_eval_s": points["final_eval_s"].mean(),
                "mean_rest_s": points["rest_s"].mean(),
                "start_share": (points["first_step_s"] + points["final_eval_s"] + points["rest_s"]).sum() / points["job_s"].sum(),
                "threads": sorted(points["threads"].dropna().unique().tolist()) if "threads" in points else [],
                "threads_xla": sorted(points["threads_xla"].dropna().unique().tolist()) if "threads_xla" in points else [],
                "cache_entries": sum(1 for _ in cache.rglob("*")) if cache.exists() else 0,
            }
            out.append(row)
            print(json.dumps(row), flush=True)
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                points.to_csv(keep / f"{name}-{phase}-points.tsv", sep="\t", index=False)
    return out


def format_table(rows: list[dict]) -> str:
    head = (
        "| study | revision | cache | cores | points | wall s | points/h | points/h/core | mean job s "
        "| first step s | steps s | final eval s | rest s | start-up share |"
    )
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        lines.append(
            f"| {r['study']} | {r['repo']} | {r['cache']} | {r['cores']} | {r['points']} | {r['wall_s']:.0f} "
            f"| {r['points_per_hour']:.0f} | {r['points_per_hour_per_core']:.0f} | {r['mean_job_s']:.1f} "
            f"| {r['mean_first_step_s']:.1f} | {r['mean_steps_s']:.1f} | {r['mean_final_eval_s']:.1f} "
            f"| {r['mean_rest_s']:.1f} | {r['start_share']:.0%} |"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--study", type=Path, default=ROOT / "config" / "config.yaml")
    p.add_argument("--cores", type=int, default=available_cores())
    p.add_argument("--repo", type=Path, action="append", help="checkout(s) whose workflow to run (default: this one)")
    p.add_argument("--python", type=Path, default=Path(sys.executable), help="interpreter with that checkout's solver installed")
    p.add_argument("--cache", default="cold,warm", help="which passes to report: cold, warm or both")
    p.add_argument("--out", type=Path, default=None, help="write results.json, table.md and per-point TSVs here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rows = []
    for repo in args.repo or [ROOT]:
        rows += measure(repo.resolve(), args.study, args.cores, args.python, args.out, tuple(args.cache.split(",")))
    table = format_table(rows)
    print(table)
    if args.out:
        (args.out / "results.json").write_text(json.dumps(rows, indent=2))
        (args.out / "table.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
