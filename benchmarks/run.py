"""Run workloads in nqs-sweep and NetKet and print one comparison table.

    python -m benchmarks.run                       # W1, W2-SR, W2-MinSR (and W3 on a GPU)
    python -m benchmarks.run --workloads W1 --codes ours --steps 20
    python -m benchmarks.run --load 0,2 --threads 1   # idle, then beside 2 busy processes
    python -m benchmarks.run --load 0,1 --load-kind copies --threads 1   # idle, then beside a copy
    python -m benchmarks.run --codes ours,netket,control --load 0,2 --threads 1   # and the machine's floor
    python -m benchmarks.run --workloads W4 --samples 512 --steps 3   # a deep network at 1/8 of its samples

Every (workload, code) pair runs in its own Python process, so peak memory is that
code's alone and neither warms the other's caches. Timings exclude compilation
(the first step, reported separately); s/step is the mean of ``--repeats`` consecutive steps.

Conditions. ``--load K`` runs each pair while K other busy processes (one spinning Python
loop each) share the cores, as on a node where a sweep runs one job per core or other users'
jobs run; ``--load 0,2`` measures idle and loaded side by side, pair after pair, so both codes
meet the same load. ``--load-kind copies`` makes the K competing processes copies of the
measured workload in the same code instead (a sweep running one job per core). ``--threads N``
gives both codes' processes the same environment sizing every pool to N threads
(nqs_sweep.threads.environment: BLAS/LAPACK, XLA's CPU pool, OpenMP); ``auto`` leaves each
library its default (one thread per core).

``--codes ours,netket,control`` adds benchmarks.control: a fixed one-thread computation timed
the same way, whose loaded/idle ratio is the share of a core the scheduler gave any one-thread
process in those conditions (about 1.5 beside two busy processes on two cores). The table
divides each code's loaded/idle ratio by it.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.workloads import WORKLOADS
from nqs_sweep.threads import environment as thread_environment
from nqs_sweep.xla_options import XLA_DEFAULT_SMALL_LOOP_BYTES, with_small_loop_bytes

# code -> the module whose run(workload, n_steps, repeats) measures it in a worker process.
# "control" is no VMC code: a fixed one-thread computation whose loaded/idle ratio is the share
# of a core the machine gave any such process in the same conditions (benchmarks.control).
CODES = {"ours": "benchmarks.ours", "netket": "benchmarks.netket_run", "control": "benchmarks.control"}


def _worker(code: str, name: str, n_steps: int | None, repeats: int, samples: int | None = None) -> None:
    w = WORKLOADS[name] if samples is None else dataclasses.replace(WORKLOADS[name], n_samples=samples)
    impl = importlib.import_module(CODES[code])
    result = impl.run(w, n_steps if n_steps is not None else w.n_steps, repeats)
    print("RESULT " + json.dumps({"workload": _label(name, samples), **result}), flush=True)


def _label(name: str, samples: int | None) -> str:
    return name if samples is None else f"{name} ({samples} samples)"


LOAD_KINDS = ("busy", "copies")


def _worker_cmd(code: str, name: str, n_steps: int | None, repeats: int, samples: int | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "benchmarks.run", "--worker", code, name, "--repeats", str(repeats)]
    cmd += [] if n_steps is None else ["--steps", str(n_steps)]
    cmd += [] if samples is None else ["--samples", str(samples)]
    return cmd


def _load_processes(
    k: int, kind: str, code: str, name: str, repeats: int, root: Path, env: dict, samples: int | None = None
) -> list[subprocess.Popen]:
    """k competing processes until killed: spinning loops ("busy", another job's compute) or
    copies of the measured workload in the same code ("copies", a sweep running one job per core)."""
    cmd = [sys.executable, "-c", "while True: pass"] if kind == "busy" else _worker_cmd(code, name, 10**6, repeats, samples)
    procs: list[subprocess.Popen] = []
    for _ in range(k):
        procs.append(subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def _spawn(
    code: str,
    name: str,
    n_steps: int | None,
    repeats: int,
    timeout: float,
    load: int = 0,
    threads: str = "auto",
    load_kind: str = "busy",
    samples: int | None = None,
) -> dict:
    cmd = _worker_cmd(code, name, n_steps, repeats, samples)
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "src"), os.environ.get("PYTHONPATH", "")])}
    for variable in thread_environment(1):  # auto: each library's own default, whatever this shell set
        env.pop(variable, None)
    if threads != "auto":
        env.update(thread_environment(int(threads)))
    if code == "netket":
        # The worker imports nqs_sweep (for its memory probe), which would give NetKet our XLA settings
        # (nqs_sweep.xla_options); the peer runs with XLA's own, as its users run it. This also overrides a
        # threshold set in this shell: after our import the two cannot be told apart.
        env["XLA_FLAGS"] = with_small_loop_bytes(env.get("XLA_FLAGS", ""), XLA_DEFAULT_SMALL_LOOP_BYTES, replace=True)
    conditions = {"load": load, "load_kind": load_kind, "threads": threads}
    busy: list[subprocess.Popen] = []
    try:
        busy = _load_processes(load, load_kind, code, name, repeats, root, env, samples)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=root, env=env)
    except subprocess.TimeoutExpired:
        return {"workload": _label(name, samples), "code": code, **conditions, "error": f"timed out after {timeout:.0f} s"}
    finally:
        for p in busy:
            p.kill()
            p.wait()
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return {**json.loads(line[len("RESULT ") :]), **conditions}
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"workload": _label(name, samples), "code": code, **conditions, "error": " | ".join(tail) or f"exit {proc.returncode}"}


def format_table(rows: list[dict]) -> str:
    """Markdown table, one row per (workload, load, code), with NetKet/ours ratios in the same
    conditions and, on loaded rows, the ratio to the same code's idle s/step and, where the
    control ran beside busy loops with one thread per pool, that ratio divided by the control's:
    1 is all the load could cost a one-thread process."""
    head = (
        "| workload | load | threads | code | device | params | s/step | loaded/idle | ÷ control's | samples/s | peak MB "
        "| energy ± error | compile s | NetKet/ours s/step | NetKet/ours MB |"
    )
    lines = [head, "|" + "---|" * 15]
    by_key = {(r["workload"], r.get("load", 0), r.get("load_kind", "busy"), r["code"].split()[0]): r for r in rows}
    for r in rows:
        kind, threads = r.get("load_kind", "busy"), r.get("threads", "auto")
        load = r.get("load", 0) if kind == "busy" else f"{r.get('load', 0)} copies"
        if "error" in r:
            lines.append(f"| {r['workload']} | {load} | {threads} | {r['code']} | failed: {r['error']} |" + " |" * 10)
            continue
        ratio_t = ratio_m = slowdown = relative = ""
        nk = by_key.get((r["workload"], r.get("load", 0), kind, "netket"))
        if r["code"] == "nqs-sweep" and nk and "error" not in nk:
            ratio_t = f"{nk['step_s'] / r['step_s']:.1f}"
            ratio_m = f"{nk['peak_mb'] / r['peak_mb']:.2f}"
        ratio = _slowdown(by_key, r, r["code"].split()[0])
        slowdown = "" if ratio is None else f"{ratio:.2f}"
        # The control is the floor of a one-thread process beside busy loops; copies load each
        # code with itself, and a process of several threads has another floor: no division there.
        floor = _slowdown(by_key, r, "control") if kind == "busy" and threads == "1" else None
        if ratio is not None and floor is not None and r["code"] != "control":
            relative = f"{ratio / floor:.2f}"
        lines.append(
            f"| {r['workload']} | {load} | {threads} | {r['code']} | {r['device']} | {r['n_params']} | {r['step_s']:.4f} "
            f"| {slowdown} | {relative} | {r['samples_per_s']:.3g} | {r['peak_mb']:.0f} "
            f"| {r['energy']:.4f} ± {r['energy_error']:.4f} | {r['compile_s']:.1f} | {ratio_t} | {ratio_m} |"
        )
    return "\n".join(lines)


def _slowdown(by_key: dict, r: dict, code: str) -> float | None:
    """code's loaded/idle s/step in r's workload and load (None on an idle row or a missing one)."""
    if not r.get("load", 0):
        return None
    kind = r.get("load_kind", "busy")
    loaded = by_key.get((r["workload"], r["load"], kind, code))
    idle = by_key.get((r["workload"], 0, "busy", code)) or by_key.get((r["workload"], 0, "copies", code))
    if not loaded or not idle or "error" in loaded or "error" in idle:
        return None
    return loaded["step_s"] / idle["step_s"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default=None, help="comma-separated names (default: W1,W2-SR,W2-MinSR, plus W3 on a GPU)")
    p.add_argument("--codes", default="ours,netket", help="comma-separated: ours, netket, control (the machine's floor)")
    p.add_argument("--steps", type=int, default=None, help="optimisation steps before the final energy (default: the workload's)")
    p.add_argument(
        "--samples", type=int, default=None, help="samples per step instead of the workload's (a multiple of its chains)"
    )
    p.add_argument("--repeats", type=int, default=10, help="consecutive timed steps whose mean is reported")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed to one (workload, code) process")
    p.add_argument("--load", default="0", help="comma-separated counts of busy processes sharing the cores (0: idle)")
    p.add_argument("--load-kind", default="busy", choices=LOAD_KINDS, help="busy loops, or copies of the measured workload")
    p.add_argument("--threads", default="auto", help="threads of every pool in both codes' processes, or auto (library defaults)")
    p.add_argument("--out", type=Path, default=None, help="write results.json and table.md here")
    p.add_argument("--worker", nargs=2, metavar=("CODE", "WORKLOAD"), help=argparse.SUPPRESS)
    return p


def plan(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str], list[int], list[str]]:
    """Parse and check the command line: (args, workloads, loads, codes); exits 2 naming a bad option."""
    p = build_parser()
    args = p.parse_args(argv)
    try:
        loads = [int(k) for k in args.load.split(",")]
        if min(loads) < 0:
            raise ValueError
    except ValueError:
        p.error(f"--load: expected comma-separated counts >= 0; got {args.load!r}")
    if args.threads != "auto" and not (args.threads.isdigit() and int(args.threads) >= 1):
        p.error(f"--threads: expected auto or a whole number >= 1; got {args.threads!r}")
    codes = args.codes.split(",")
    for c in codes:
        if c not in CODES:
            p.error(f"--codes: unknown code {c!r}; allowed: {', '.join(CODES)}")
    if args.workloads:
        names = args.workloads.split(",")
    else:
        import jax

        on_gpu = jax.devices()[0].platform == "gpu"
        names = [n for n, w in WORKLOADS.items() if n != "W0" and (on_gpu or not w.gpu_only)]
    for n in names:
        if n not in WORKLOADS:
            p.error(f"--workloads: unknown workload {n!r}; allowed: {', '.join(WORKLOADS)}")
    for n in names if args.samples is not None and not args.worker else ():
        chains = WORKLOADS[n].n_chains
        if args.samples < chains or args.samples % chains:
            p.error(f"--samples: {n} runs {chains} chains; expected a positive multiple of {chains}; got {args.samples}")
    return args, names, loads, codes


def main(argv: list[str] | None = None) -> int:
    args, names, loads, codes = plan(argv)
    if args.worker:
        _worker(args.worker[0], args.worker[1], args.steps, args.repeats, args.samples)
        return 0

    rows = []
    for n in names:
        for load in loads:
            for c in codes:
                print(f"running {n} in {c}, load {load}, threads {args.threads} ...", file=sys.stderr, flush=True)
                rows.append(
                    _spawn(c, n, args.steps, args.repeats, args.timeout, load, args.threads, args.load_kind, args.samples)
                )
    table = format_table(rows)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(rows, indent=2))
        (args.out / "table.md").write_text(table + "\n")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
