"""The quench run: tables, product states, imaginary time, the CLI contract, resume after SIGKILL."""

import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import yaml

from nqs_sweep import cli
from nqs_sweep.dynamics.initial_states import product_state_theta
from nqs_sweep.jobs.tvmc import run_tvmc
from nqs_sweep.models import make_ansatz
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.exact import ground_state
from nqs_sweep.quench import parse_quench

TRAJECTORY_COLUMNS = {"time", "observable", "value", "error", "exact_value", "dt", "tdvp_residual", "n_kept", "spec_hash", "L"}
SUMMARY_COLUMNS = {"status", "max_abs_error", "energy_drift_max", "n_steps", "runtime_s", "spec_hash", "initial", "integrator"}

SMALL = {
    "model": {"name": "tfim", "h": 0.5},
    "lattice": {"kind": "chain", "L": 6},
    "ansatz": {"name": "rbm", "alpha": 2, "dtype": "complex128"},
    "sampler": {"kind": "exact"},
    "initial": {"kind": "product", "direction": "x", "infidelity": 1e-7},
    # Leaving a product state, the couplings grow like √t from their small seed: an adaptive
    # step (small at first) with the QGT error norm follows that; a fixed rk4 step of 0.01
    # misses by ~3e-3 here (measured).
    "dynamics": {
        "kind": "real",
        "t_final": 0.5,
        "dt": 0.01,
        "integrator": "rk23",
        "atol": 1e-5,
        "rtol": 0.0,
        "error_norm": "qgt",
        "save_every": 0.1,
    },
}


def write(path, raw):
    path.write_text(yaml.safe_dump(raw))
    return path


def test_quench_from_the_x_state_follows_exact_dynamics(tmp_path):
    summary = run_tvmc(parse_quench(SMALL), tmp_path, show_progress=False)
    traj = pd.read_parquet(tmp_path / "trajectory.parquet")
    assert TRAJECTORY_COLUMNS <= set(traj.columns) and SUMMARY_COLUMNS <= set(summary.columns)
    assert len(traj) == 6 * 4 and sorted(traj["time"].unique()) == pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.5])
    sx = traj[traj["observable"] == "sx"].sort_values("time")
    assert sx["value"].iloc[0] == pytest.approx(1.0, abs=1e-4)  # the x state, to its infidelity budget
    assert sx["value"].iloc[-1] < 0.97  # the quench moves it
    assert sx["abs_error"].max() < 1e-4
    assert (traj["error"] == 0).all()  # exact enumeration: no Monte Carlo error
    row = summary.iloc[0]
    assert row["status"] == "completed" and row["n_steps"] > 10
    assert row["energy_drift_max"] < 1e-4  # real-time evolution conserves the energy
    steps = pd.read_parquet(tmp_path / "steps.parquet")
    assert len(steps) == row["n_steps"] and (steps["residual"] < 1e-2).all() and (steps["n_kept"] > 0).all()
    assert steps["dt"].iloc[0] < 0.01 and abs(steps["time"].iloc[-1] + steps["dt"].iloc[-1] - 0.5) < 1e-12


def test_the_largest_seed_runs_a_quench(tmp_path):
    """Seeds go up to 2^63 - 1 (spec.py); the quench's own stream, seed + an offset, used to overflow
    the signed 64-bit key there."""
    dynamics = {**SMALL["dynamics"], "t_final": 0.02, "save_every": 0.02}
    row = run_tvmc(parse_quench({**SMALL, "dynamics": dynamics, "seed": 2**63 - 1}), tmp_path, show_progress=False).iloc[0]
    assert row["status"] == "completed"


def test_amplitude_and_phase_networks_follow_the_same_quench(tmp_path):
    """Two real RBMs, log ψ = f_A + i f_φ, carry real-time evolution too (a phase network is the
    phase real time needs): the same product-state quench to the same 1e-4."""
    raw = {**SMALL, "ansatz": {"name": "rbm", "alpha": 2, "parametrization": "amplitude_phase"}}
    row = run_tvmc(parse_quench(raw), tmp_path, show_progress=False).iloc[0]
    assert row["status"] == "completed" and row["max_abs_error"] < 1e-4 and row["energy_drift_max"] < 1e-4
    sx = pd.read_parquet(tmp_path / "trajectory.parquet").query("observable == 'sx'").sort_values("time")
    assert sx["value"].iloc[-1] < 0.97  # it moved


def test_imaginary_time_from_the_x_state_approaches_the_ground_state(tmp_path):
    dynamics = {"kind": "imaginary", "t_final": 2.0, "dt": 0.05, "integrator": "rk4", "save_every": 0.5}
    raw = {**SMALL, "dynamics": dynamics}
    raw["ansatz"] = {**raw["ansatz"], "dtype": "float64"}  # imaginary time needs no complex parameters
    run_tvmc(parse_quench(raw), tmp_path, show_progress=False)
    traj = pd.read_parquet(tmp_path / "trajectory.parquet")
    energy = traj[traj["observable"] == "energy"].sort_values("time")["value"].to_numpy()
    assert np.all(np.diff(energy) < 0)  # imaginary time lowers the energy monotonically
    e0 = ground_state(parse_quench(raw).point).energy
    assert abs(energy[-1] - e0) / abs(e0) < 1e-3


@pytest.mark.parametrize("direction", ["x", "z"])
def test_product_states_have_about_the_stated_infidelity(direction):
    budget = 1e-4
    q = parse_quench({**SMALL, "initial": {"kind": "product", "direction": direction, "infidelity": budget}})
    ansatz = make_ansatz(q.point)
    theta = product_state_theta(ansatz, direction, 6, budget, jax.random.key(0))
    states = jnp.asarray(hilbert.all_states(6, "full"), jnp.float64)
    psi = np.exp(np.asarray(ansatz.log_psi(theta, states)))
    target = np.full(64, 1 / 8.0) if direction == "x" else np.eye(64)[0]  # index 0 is all up
    infidelity = 1 - abs(np.vdot(target, psi)) ** 2 / np.vdot(psi, psi).real
    assert 0.3 * budget < infidelity < 1.5 * budget


def test_cli_chains_a_vmc_run_into_a_quench_and_refuses_bad_initial_runs(tmp_path, capsys):
    vmc_raw = {**{k: v for k, v in SMALL.items() if k not in ("initial", "dynamics")}, "optimizer": {"n_iter": 30}}
    vmc_raw["model"] = {"name": "tfim", "h": 2.0}
    assert cli.main(["vmc", "--spec", str(write(tmp_path / "gs.yaml", vmc_raw)), "--out", str(tmp_path / "gs"), "--quiet"]) == 0
    quench = {
        **SMALL,
        "initial": {"kind": "ground_state", "model": {"h": 2.0}},
        "dynamics": {**SMALL["dynamics"], "t_final": 0.1, "save_every": 0.05},
    }
    spec = str(write(tmp_path / "q.yaml", quench))

    def refused(*args, field="--initial-run"):
        capsys.readouterr()
        assert cli.main(["tvmc", "--spec", spec, "--out", str(tmp_path / "bad"), "--quiet", *args]) == 2
        assert field in capsys.readouterr().err
        assert not (tmp_path / "bad").exists()  # nothing written

    refused("--initial-run", str(tmp_path / "nowhere"))
    other = {**quench, "initial": {"kind": "ground_state", "model": {"h": 3.0}}}
    refused("--spec", str(write(tmp_path / "other.yaml", other)), "--initial-run", str(tmp_path / "gs"))  # other couplings
    wide = {**quench, "ansatz": {**quench["ansatz"], "alpha": 1}}
    refused("--spec", str(write(tmp_path / "wide.yaml", wide)), "--initial-run", str(tmp_path / "gs"))  # other ansatz
    product = str(write(tmp_path / "p.yaml", SMALL))
    refused("--spec", product, "--initial-run", str(tmp_path / "gs"))
    refused(
        "--spec", str(write(tmp_path / "t0.yaml", {**SMALL, "dynamics": {**SMALL["dynamics"], "t_final": 0}})), field="t_final"
    )

    out = tmp_path / "quench"
    assert cli.main(["tvmc", "--spec", spec, "--out", str(out), "--initial-run", str(tmp_path / "gs"), "--quiet"]) == 0
    traj = pd.read_parquet(out / "trajectory.parquet")
    summary = pd.read_parquet(out / "summary.parquet").iloc[0]
    assert summary["initial"] == "ground_state" and summary["initial_h"] == 2.0 and summary["h"] == 0.5
    assert np.isfinite(summary["initial_rel_error"])
    assert not (out / "initial").exists()  # the given run was used, not a new one
    assert traj["exact_value"].notna().all()
    capsys.readouterr()
    assert cli.main(["tvmc", "--spec", spec, "--out", str(out), "--initial-run", str(tmp_path / "gs"), "--quiet"]) == 0
    assert pd.read_parquet(out / "summary.parquet").iloc[0]["runtime_s"] == summary["runtime_s"]  # complete: not rerun


def _checkpoint_writes(path, count, proc, timeout=240):
    seen, last = 0, None
    deadline = time.time() + timeout
    while seen < count and time.time() < deadline and proc.poll() is None:
        if path.exists():
            m = path.stat().st_mtime_ns
            if m != last:
                seen, last = seen + 1, m
        time.sleep(0.005)
    return seen


def test_quench_killed_with_sigkill_resumes_to_the_same_trajectory(tmp_path):
    raw = {
        **SMALL,
        "sampler": {"kind": "metropolis", "n_samples": 128, "n_chains": 8, "n_discard": 4},
        "dynamics": {
            "kind": "real",
            "t_final": 0.3,
            "dt": 0.02,
            "integrator": "rk23",
            "atol": 1e-3,
            "rtol": 1e-3,
            "regularization": {"kind": "snr", "snr_threshold": 2.0, "rcond": 1e-6},
            "save_every": 0.05,
        },
    }
    spec = write(tmp_path / "q.yaml", raw)
    cmd = [sys.executable, "-m", "nqs_sweep.cli", "tvmc", "--spec", str(spec), "--quiet"]
    proc = subprocess.Popen([*cmd, "--out", str(tmp_path / "killed")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    writes = _checkpoint_writes(tmp_path / "killed" / "checkpoint.npz", 3, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert writes >= 3, "the run did not checkpoint"
    assert not (tmp_path / "killed" / "summary.parquet").exists(), "the run finished before it was killed"
    subprocess.run([*cmd, "--out", str(tmp_path / "killed")], check=True, capture_output=True)
    subprocess.run([*cmd, "--out", str(tmp_path / "straight")], check=True, capture_output=True)
    for name, keys in (("trajectory.parquet", ["time", "observable"]), ("steps.parquet", ["step"])):
        a = pd.read_parquet(tmp_path / "killed" / name).sort_values(keys).reset_index(drop=True)
        b = pd.read_parquet(tmp_path / "straight" / name).sort_values(keys).reset_index(drop=True)
        assert len(a) == len(b) > 0
        cols = ["value", "error", "dt", "tdvp_residual"] if name == "trajectory.parquet" else ["time", "dt", "residual", "energy"]
        for c in cols:
            np.testing.assert_array_equal(a[c].to_numpy(), b[c].to_numpy(), err_msg=f"{name}:{c}")
    steps = pd.read_parquet(tmp_path / "straight" / "steps.parquet")
    assert steps["dt"].nunique() > 1  # the adaptive controller did change the step


def test_another_quench_in_out_is_refused_and_left_alone(tmp_path, capsys):
    first = write(tmp_path / "a.yaml", {**SMALL, "dynamics": {**SMALL["dynamics"], "t_final": 0.1, "save_every": 0.05}})
    out = tmp_path / "run"
    assert cli.main(["tvmc", "--spec", str(first), "--out", str(out), "--quiet"]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    other = write(tmp_path / "b.yaml", {**SMALL, "dynamics": {**SMALL["dynamics"], "t_final": 0.2, "save_every": 0.05}})
    capsys.readouterr()
    assert cli.main(["tvmc", "--spec", str(other), "--out", str(out), "--quiet"]) == 2
    assert "another quench" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing touched
    # --replace-stale clears it (the exact-dynamics cache included) and runs the new quench
    assert cli.main(["tvmc", "--spec", str(other), "--out", str(out), "--quiet", "--replace-stale"]) == 0
    traj = pd.read_parquet(out / "trajectory.parquet")
    assert traj["time"].max() == pytest.approx(0.2) and traj["exact_value"].notna().all()
