"""The benchmark harness cannot rot: one tiny workload through the real entry point.

Timings are printed, never asserted (they depend on the machine and its load).
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.run import format_table
from benchmarks.workloads import WORKLOADS, tfim_chain_energy

ROOT = Path(__file__).resolve().parent.parent


def test_smoke_workload_runs_in_every_installed_code(tmp_path):
    codes = "ours,netket" if importlib.util.find_spec("netket") else "ours"
    cmd = [sys.executable, "-m", "benchmarks.run", "--workloads", "W0", "--codes", codes, "--steps", "4", "--repeats", "2"]
    proc = subprocess.run([*cmd, "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [r["code"].split()[0] for r in rows] == ["nqs-sweep", "netket"][: len(codes.split(","))]
    for r in rows:
        assert r["step_s"] > 0 and r["samples_per_s"] > 0 and r["peak_mb"] > 0
        assert r["n_params"] == WORKLOADS["W0"].n_params
        # After 4 steps from a near-uniform state the energy lies between the exact ground state and 0.
        assert tfim_chain_energy(8) - 5 * r["energy_error"] <= r["energy"] < 0
    assert "| W0 | 0 | auto | nqs-sweep |" in (tmp_path / "table.md").read_text()


def test_the_solve_benchmark_measures_both_substitutions_and_the_refinements():
    cmd = [sys.executable, "-m", "benchmarks.solve", "--workload", "W0", "--steps", "1", "--repeats", "3", "--threads", "1"]
    proc = subprocess.run([*cmd, "--shifts", "1e-2,1e-4"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["n"] == WORKLOADS["W0"].n_samples and report["pools"]["threads_blas"] == 1
    sub = report["substitution"]
    assert sub["ms_per_pair_trsm"] is not None and sub["difference_rel"] < 1e-5  # float32: the same solution
    assert report["lambda_max"] <= report["frobenius"] <= report["trace"]
    for row in report["refinement"]:
        assert row["cond"] <= row["trace_bound"]  # the guard's bound is a bound
        # a well-conditioned kernel: refined to the test within a few steps, residuals shrinking
        assert row["attempted"] and 1 <= row["refinements_needed"] <= 5
        assert row["residuals"][1] < 1e-3 * row["residuals"][0]


@pytest.mark.slow
def test_loaded_rows_run_beside_busy_processes_with_the_threads_asked(tmp_path):
    cmd = [sys.executable, "-m", "benchmarks.run", "--workloads", "W0", "--codes", "ours", "--steps", "3", "--repeats", "2"]
    proc = subprocess.run(
        [*cmd, "--load", "0,1", "--threads", "1", "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [(r["load"], r["threads"]) for r in rows] == [(0, "1"), (1, "1")]
    # The worker ran with every pool at one thread, whatever this process has.
    assert all(r["pools"] == {"threads": 1, "threads_blas": 1, "threads_xla": 1} for r in rows)
    # The loaded row carries its ratio to the idle one.
    ratio = rows[1]["step_s"] / rows[0]["step_s"]
    row = f"| W0 | 1 | 1 | nqs-sweep | {rows[1]['device']} | 80 | {rows[1]['step_s']:.4f} | {ratio:.2f} |"
    assert row in (tmp_path / "table.md").read_text()


def test_table_reports_netket_over_ours_ratios():
    row = dict(device="cpu", n_params=10, samples_per_s=1e4, energy=-1.0, energy_error=0.01, compile_s=1.0)
    rows = [
        {"workload": "W1", "code": "nqs-sweep", "step_s": 0.05, "peak_mb": 500.0, **row},
        {"workload": "W1", "code": "netket 3.23.0", "step_s": 0.2, "peak_mb": 750.0, **row},
        {"workload": "W2-SR", "code": "netket 3.23.0", "error": "timed out after 10 s"},
    ]
    table = format_table(rows)
    assert "| 4.0 | 1.50 |" in table  # 0.2 / 0.05 and 750 / 500 on our W1 row
    assert "failed: timed out after 10 s" in table
    loaded = [{**r, "load": 2, "step_s": 2 * r["step_s"]} for r in rows[:2]]
    table = format_table(rows[:2] + loaded)
    # Loaded rows: 2.00 times their own idle time, and the same NetKet/ours ratio within their load.
    assert "| W1 | 2 | auto | nqs-sweep | cpu | 10 | 0.1000 | 2.00 |" in table
    assert table.count("| 4.0 | 1.50 |") == 2


def test_unknown_workload_is_refused_with_the_allowed_names():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--workloads", "W9"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 2
    assert "unknown workload 'W9'" in proc.stderr and "W1" in proc.stderr


def test_samples_scales_a_workload_and_is_refused_off_its_chains(tmp_path):
    """--samples runs the workload with that many samples per step (a deep network's CPU measurement at
    a fraction of its samples) and labels the rows; a count the chains do not divide is refused."""
    w = WORKLOADS["W0"]
    samples = 2 * w.n_samples
    cmd = [sys.executable, "-m", "benchmarks.run", "--workloads", "W0", "--codes", "ours", "--steps", "2", "--repeats", "1"]
    proc = subprocess.run(
        [*cmd, "--samples", str(samples), "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (row,) = json.loads((tmp_path / "results.json").read_text())
    assert row["workload"] == f"W0 ({samples} samples)" and row["code"] == "nqs-sweep"
    assert f"| W0 ({samples} samples) | 0 | auto | nqs-sweep |" in (tmp_path / "table.md").read_text()

    bad = subprocess.run([*cmd, "--samples", str(w.n_chains + 1)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2
    assert f"--samples: W0 runs {w.n_chains} chains; expected a positive multiple of {w.n_chains}" in bad.stderr


@pytest.mark.parametrize("L", [6, 8])
def test_tfim_reference_energy_matches_exact_diagonalisation(L):
    from nqs_sweep.physics.exact import ground_state
    from nqs_sweep.spec import parse_spec

    spec = parse_spec(
        {"model": {"name": "tfim", "J": 1.0, "h": 1.0}, "lattice": {"kind": "chain", "L": L}, "ansatz": {"name": "rbm"}}
    )
    assert tfim_chain_energy(L) == pytest.approx(ground_state(spec).energy, abs=1e-9)


def test_copies_rows_are_labelled_and_compared_with_their_idle_row():
    row = dict(device="cpu", n_params=10, samples_per_s=1e4, energy=-1.0, energy_error=0.01, compile_s=1.0, peak_mb=500.0)
    rows = [
        {"workload": "W1", "code": "nqs-sweep", "load": 0, "load_kind": "copies", "threads": "1", "step_s": 0.05, **row},
        {"workload": "W1", "code": "nqs-sweep", "load": 1, "load_kind": "copies", "threads": "1", "step_s": 0.06, **row},
    ]
    assert "| W1 | 1 copies | 1 | nqs-sweep | cpu | 10 | 0.0600 | 1.20 |" in format_table(rows)


def test_a_copy_load_runs_the_measured_workload_in_the_same_code():
    from benchmarks.run import _worker_cmd

    cmd = _worker_cmd("ours", "W1", 10**6, 3)
    assert cmd[cmd.index("--worker") + 1 : cmd.index("--worker") + 3] == ["ours", "W1"]
    assert cmd[cmd.index("--steps") + 1] == str(10**6)


# main() sets its threads after this process's JAX has started: the warning says so, rightly
@pytest.mark.filterwarnings("ignore:JAX's CPU backend already started")
def test_reweighting_benchmark_compares_both_powers_on_a_finished_run(tmp_path, capsys):
    """benchmarks.reweighting on a small finished run: both powers' replica means agree with the
    state's exact energy within their spread, and the command prints one line per power."""
    from benchmarks import reweighting
    from nqs_sweep.api import run
    from reference import SMALL

    run(SMALL, out=tmp_path / "run", progress=False)
    for power in (2.0, 1.0):
        r = reweighting.replicas(str(tmp_path / "run"), power, n_replicas=12, n_samples=256)
        assert r["exact"] is not None and (r["errors"] > 0).all()
        spread = r["means"].std(ddof=1)
        assert abs(r["means"].mean() - r["exact"]) < 4 * spread / np.sqrt(12) + 1e-12
    reweighting.main([str(tmp_path / "run"), "--replicas", "4", "--samples", "128"])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("power 2:") and out[1].startswith("power 1:") and "beyond 4 bars" in out[1]


def test_the_target_check_reads_a_summary_and_says_whether_it_meets_it(tmp_path):
    import pandas as pd

    from benchmarks.target import main

    pd.DataFrame([{"rel_error": 2e-4, "rel_error_lanczos": 5e-5, "runtime_s": 1100.0}]).to_parquet(tmp_path / "summary.parquet")
    assert main([str(tmp_path), "--column", "rel_error_lanczos", "--max", "1e-4", "--seconds", "1200"]) == 0
    assert main([str(tmp_path), "--max", "1e-4"]) == 1  # the network alone
    assert main([str(tmp_path), "--column", "rel_error_lanczos", "--max", "1e-4", "--seconds", "1000"]) == 1
    assert main([str(tmp_path), "--column", "energy_lanczos", "--max", "1"]) == 1  # absent column


def test_loaded_rows_are_divided_by_the_controls_slowdown_in_the_same_conditions():
    row = dict(device="cpu", n_params=10, samples_per_s=1e4, energy=-1.0, energy_error=0.01, compile_s=1.0, peak_mb=500.0)
    rows = [
        {"workload": "W1", "code": "nqs-sweep", "load": 0, "step_s": 0.02, **row},
        {"workload": "W1", "code": "control", "load": 0, "step_s": 0.025, **row},
        {"workload": "W1", "code": "nqs-sweep", "load": 2, "step_s": 0.036, **row},
        {"workload": "W1", "code": "control", "load": 2, "step_s": 0.0375, **row},
    ]
    rows = [{**r, "threads": "1"} for r in rows]
    table = format_table(rows)
    # ours 1.80 × idle, the control 1.50 ×: 1.20 × what the load cost any one-thread process
    assert "| W1 | 2 | 1 | nqs-sweep | cpu | 10 | 0.0360 | 1.80 | 1.20 |" in table
    assert "| W1 | 2 | 1 | control | cpu | 10 | 0.0375 | 1.50 |  |" in table
    # without the control's loaded row there is nothing to divide by
    assert "| 1.80 |  |" in format_table(rows[:3])
    # the control is the floor of one thread beside busy loops: not of a process with the
    # libraries' thread pools, nor of a code beside copies of itself
    assert "| 1.80 |  |" in format_table([{**r, "threads": "auto"} for r in rows])
    assert "| 1.80 |  |" in format_table([{**r, "load_kind": "copies"} for r in rows])


def test_the_control_runs_a_fixed_one_thread_computation_as_a_worker(tmp_path):
    cmd = [sys.executable, "-m", "benchmarks.run", "--workloads", "W0", "--codes", "control", "--repeats", "3", "--steps", "6"]
    proc = subprocess.run([*cmd, "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (r,) = json.loads((tmp_path / "results.json").read_text())
    # 3 timed units after an untimed one, then the rest of the 6 steps (a copy used as load runs on)
    assert r["code"] == "control" and r["step_s"] > 0 and r["n_steps"] == 6
    assert "| W0 | 0 | auto | control |" in (tmp_path / "table.md").read_text()
