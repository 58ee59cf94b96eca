"""The run: tables, determinism, resume after SIGKILL, no-op reruns, divergence and failure."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from nqs_sweep import cli
from nqs_sweep.jobs import checkpoint
from nqs_sweep.jobs import vmc as driver
from nqs_sweep.jobs.vmc import run_vmc
from nqs_sweep.optim.step import init_state
from nqs_sweep.problem import build_problem
from nqs_sweep.spec import parse_spec
from reference import SMALL, write_spec

HISTORY_COLUMNS = {"iteration", "energy", "energy_error", "variance", "r_hat", "tau_corr", "acceptance", "wall_time_s"}
SUMMARY_COLUMNS = {
    "energy", "energy_error", "energy_per_site", "variance", "exact_energy", "rel_error",
    "n_params", "n_iter", "status", "runtime_s", "model", "L", "alpha", "seed", "spec_hash", "v_score",
}  # fmt: skip


def test_tables_hold_the_contract_columns(tmp_path):
    spec = parse_spec(SMALL)
    summary = run_vmc(spec, tmp_path / "run", exact_energy=-10.0, show_progress=False)
    history = pd.read_parquet(tmp_path / "run" / "history.parquet")
    assert HISTORY_COLUMNS <= set(history.columns)
    assert list(history["iteration"]) == list(range(20))
    on_disk = pd.read_parquet(tmp_path / "run" / "summary.parquet")
    assert SUMMARY_COLUMNS <= set(on_disk.columns)
    row = on_disk.iloc[0]
    assert row["spec_hash"] == spec.spec_hash and row["n_params"] == 8 + 8 + 64
    assert row["rel_error"] == pytest.approx(abs(row["energy"] + 10) / 10)
    assert row["status"] in ("converged", "not_converged")
    pd.testing.assert_frame_equal(summary, on_disk)
    assert (tmp_path / "run" / "checkpoint.npz").exists() and (tmp_path / "run" / "run.log").exists()


def test_same_spec_and_seed_give_identical_history(tmp_path):
    a = run_vmc(parse_spec(SMALL), tmp_path / "a", show_progress=False)
    b = run_vmc(parse_spec(SMALL), tmp_path / "b", show_progress=False)
    cols = ["energy", "energy_error", "variance", "acceptance", "grad_norm", "solver_fallback", "solve_refined_missed"]
    ha, hb = (pd.read_parquet(tmp_path / d / "history.parquet")[cols] for d in "ab")
    pd.testing.assert_frame_equal(ha, hb, check_exact=True)
    assert a["energy"].iloc[0] == b["energy"].iloc[0]
    c = run_vmc(parse_spec({**SMALL, "seed": 4}), tmp_path / "c", show_progress=False)
    assert c["energy"].iloc[0] != a["energy"].iloc[0]


def final_theta(run_dir, raw):
    spec = parse_spec(raw)
    template = init_state(build_problem(spec), __import__("jax").random.key(0))
    state, _ = checkpoint.load(run_dir / "checkpoint.npz", template)
    return np.asarray(state.theta), int(state.iteration)


def test_run_killed_with_sigkill_resumes_to_the_same_parameters(tmp_path):
    # with snapshots: those of the killed attempt past its checkpoint are retaken, the same
    raw = {**SMALL, "optimizer": {**SMALL["optimizer"], "n_iter": 400}, "snapshot_every": 40}
    spec_path = write_spec(tmp_path / "spec.yaml", raw)
    cmd = [
        sys.executable,
        "-m",
        "nqs_sweep.cli",
        "vmc",
        "--spec",
        str(spec_path),
        "--exact",
        "none",
        "--checkpoint-every",
        "5",
        "--quiet",
    ]

    proc = subprocess.Popen([*cmd, "--out", str(tmp_path / "killed")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "killed" / "checkpoint.npz"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), "the run never checkpointed"
    assert not (tmp_path / "killed" / "summary.parquet").exists(), "the run finished before it was killed"
    _, killed_at = final_theta(tmp_path / "killed", raw)
    assert 0 < killed_at < 400

    subprocess.run([*cmd, "--out", str(tmp_path / "killed")], check=True, capture_output=True)
    subprocess.run([*cmd, "--out", str(tmp_path / "straight")], check=True, capture_output=True)
    theta_resumed, it_resumed = final_theta(tmp_path / "killed", raw)
    theta_straight, it_straight = final_theta(tmp_path / "straight", raw)
    assert it_resumed == it_straight == 400
    np.testing.assert_array_equal(theta_resumed, theta_straight)
    hist = pd.read_parquet(tmp_path / "killed" / "history.parquet")
    assert list(hist["iteration"]) == list(range(400))
    straight = pd.read_parquet(tmp_path / "straight" / "history.parquet")
    np.testing.assert_array_equal(hist["energy"].to_numpy(), straight["energy"].to_numpy())
    spec_hash = parse_spec(raw).spec_hash
    resumed = driver.load_snapshots(tmp_path / "killed" / driver.SNAPSHOTS, spec_hash)
    snapshots = driver.load_snapshots(tmp_path / "straight" / driver.SNAPSHOTS, spec_hash)
    assert sorted(snapshots) == sorted(resumed) == list(range(0, 401, 40))
    for it in snapshots:
        np.testing.assert_array_equal(resumed[it], snapshots[it])
    np.testing.assert_array_equal(snapshots[400], theta_straight)


def test_complete_run_is_not_repeated(tmp_path, capsys):
    spec_path = write_spec(tmp_path / "spec.yaml", SMALL)
    args = ["vmc", "--spec", str(spec_path), "--out", str(tmp_path / "run"), "--exact", "none", "--quiet"]
    assert cli.main(args) == 0
    stamp = (tmp_path / "run" / "summary.parquet").stat().st_mtime_ns
    assert cli.main(args) == 0
    assert "nothing to do" in capsys.readouterr().err
    assert (tmp_path / "run" / "summary.parquet").stat().st_mtime_ns == stamp


def test_exact_reference_is_joined(tmp_path):
    spec_path = write_spec(tmp_path / "spec.yaml", SMALL)
    assert cli.main(["exact", "--spec", str(spec_path), "--out", str(tmp_path / "ref")]) == 0
    ref = pd.read_parquet(tmp_path / "ref" / "exact.parquet")["exact_energy"].iloc[0]
    args = [
        "vmc",
        "--spec",
        str(spec_path),
        "--out",
        str(tmp_path / "run"),
        "--quiet",
        "--exact",
        str(tmp_path / "ref" / "exact.parquet"),
    ]
    assert cli.main(args) == 0
    row = pd.read_parquet(tmp_path / "run" / "summary.parquet").iloc[0]
    assert row["exact_energy"] == ref
    assert row["rel_error"] == pytest.approx(abs(row["energy"] - ref) / abs(ref))
    other = write_spec(tmp_path / "other.yaml", {**SMALL, "model": {"name": "tfim", "h": 0.5}})
    args = ["vmc", "--spec", str(other), "--out", str(tmp_path / "run2"), "--exact", str(tmp_path / "ref" / "exact.parquet")]
    assert cli.main(args) == 2 and not (tmp_path / "run2").exists()


def test_diverging_run_is_recorded_as_diverged(tmp_path, monkeypatch):
    real_make_step = driver.make_step

    def nan_after_three(problem):
        step = real_make_step(problem)

        def wrapped(state, key, hyper):
            state, metrics = step(state, key, hyper)
            if int(state.iteration) > 3:
                metrics = {**metrics, "energy": metrics["energy"] * np.nan}
            return state, metrics

        return wrapped

    monkeypatch.setattr(driver, "make_step", nan_after_three)
    summary = run_vmc(parse_spec(SMALL), tmp_path / "run", show_progress=False)
    assert summary["status"].iloc[0] == "diverged"
    assert summary["n_iter"].iloc[0] == 4
    assert len(pd.read_parquet(tmp_path / "run" / "history.parquet")) == 4


COLLAPSING = {
    "model": {"name": "heisenberg"}, "lattice": {"kind": "chain", "L": 8}, "hilbert": {"sector": "zero_magnetization"},
    "ansatz": {"name": "rbm", "alpha": 1, "dtype": "float64"}, "marshall_sign": True,
    "sampler": {"n_samples": 64, "n_chains": 4, "move": "exchange"},
    "optimizer": {"kind": "sgd", "learning_rate": 1.0, "n_iter": 40},
}  # fmt: skip


def test_a_run_whose_chains_freeze_is_recorded_as_collapsed_and_stopped(tmp_path):
    """Plain gradient descent at learning rate 1 puts all the weight on the chains' configurations
    in one step: no move is accepted again, and the energy stays at theirs (here -6, against the
    ground state's -14.60). The run stops after COLLAPSE_STEPS such steps, says why, and is not
    reported as converged."""
    summary = run_vmc(parse_spec(COLLAPSING), tmp_path / "run", show_progress=False).iloc[0]
    history = pd.read_parquet(tmp_path / "run" / "history.parquet")
    assert summary["status"] == "collapsed" and "acceptance=0.000" in summary["health"]
    start = int(summary["error_message"].split("collapsed at iteration ")[1].split(":")[0])
    assert (history["acceptance"].iloc[start:] == 0).all() and history["acceptance"].iloc[start - 1] > 0
    assert summary["n_iter"] == len(history) == start + driver.COLLAPSE_STEPS < 40
    assert "optimizer.clip_local_energy" in summary["error_message"]


def test_frozen_chains_on_an_eigenstate_are_not_a_collapse():
    """The Ising chain at h = 0: a basis configuration is an eigenstate, and a network that learnt
    it rightly accepts no move. With a field, the same frozen configuration is a collapse."""
    rows = [{"acceptance": 0.0, "energy": -8.0, "variance": 0.0}] * driver.COLLAPSE_STEPS
    configs = np.ones((4, 8))
    hams = {h: build_problem(parse_spec({**SMALL, "model": {"name": "tfim", "h": h}})).hyper.ham for h in (0.0, 1.0)}
    assert driver.collapse_start(rows, "metropolis", hams[0.0], configs) is None
    assert driver.collapse_start(rows, "metropolis", hams[1.0], configs) == 0
    assert driver.collapse_start(rows[1:], "metropolis", hams[1.0], configs) is None  # not yet long enough
    assert driver.collapse_start([{**rows[0], "acceptance": 0.01}, *rows[1:]], "metropolis", hams[1.0], configs) is None
    assert driver.collapse_start(rows, "exact", hams[1.0], configs) is None


def test_failed_run_is_recorded_and_exits_1(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise FloatingPointError("solver exploded")

    monkeypatch.setattr(driver, "run_vmc", boom)
    spec_path = write_spec(tmp_path / "spec.yaml", SMALL)
    assert cli.main(["vmc", "--spec", str(spec_path), "--out", str(tmp_path / "run"), "--exact", "none"]) == 1
    row = pd.read_parquet(tmp_path / "run" / "summary.parquet").iloc[0]
    assert row["status"] == "failed" and "solver exploded" in row["error_message"]
    assert "FloatingPointError" in (tmp_path / "run" / "error.txt").read_text()


@pytest.mark.parametrize(
    "optimizer,target",
    [
        ({"kind": "sr", "learning_rate": 0.05}, 2e-3),
        ({"kind": "minsr", "learning_rate": 0.05}, 2e-3),
        ({"kind": "sr", "learning_rate": 0.05, "momentum": 0.9, "warmup": 10}, 2e-3),
        ({"kind": "minsr", "learning_rate": 0.05, "momentum": 0.9}, 2e-3),
        ({"kind": "adam", "learning_rate": 0.01}, 2e-2),
        ({"kind": "sgd", "learning_rate": 0.01}, 5e-2),
    ],
    ids=["sr", "minsr", "sr-spring-warmup", "minsr-spring", "adam", "sgd"],
)
def test_every_optimizer_lowers_the_energy_toward_the_exact_one(tmp_path, optimizer, target):
    """Exact sampler on 6 spins: no noise, so each optimiser's progress is deterministic."""
    raw = {
        "model": {"name": "heisenberg"},
        "lattice": {"kind": "chain", "L": 6},
        "hilbert": {"sector": "zero_magnetization"},
        "ansatz": {"name": "rbm", "alpha": 2, "dtype": "float64"},
        "sampler": {"kind": "exact"},
        "optimizer": {**optimizer, "n_iter": 150, "diag_shift": 0.01},
        "marshall_sign": True,
    }
    spec = parse_spec(raw)
    from nqs_sweep.physics.exact import ground_state

    exact = ground_state(spec).energy
    summary = run_vmc(spec, tmp_path / "run", exact_energy=exact, show_progress=False)
    history = pd.read_parquet(tmp_path / "run" / "history.parquet")
    assert summary["rel_error"].iloc[0] < target
    assert history["energy"].iloc[-1] < history["energy"].iloc[0]
    assert summary["energy_error"].iloc[0] == 0.0  # the enumeration has no statistical error


def test_spring_momentum_carries_its_direction_through_checkpoints(tmp_path):
    """The previous direction is part of the state: saved, restored by a template of the same
    spec, and the learning rate's warm-up ramp is what the history reports."""
    raw = {**SMALL, "optimizer": {**SMALL["optimizer"], "momentum": 0.8, "warmup": 4}}
    spec = parse_spec(raw)
    run_vmc(spec, tmp_path / "run", show_progress=False)
    template = init_state(build_problem(spec), __import__("jax").random.key(0))
    state, _ = checkpoint.load(tmp_path / "run" / "checkpoint.npz", template)
    _, previous = state.opt_state
    assert np.linalg.norm(np.asarray(previous)) > 0
    plain = init_state(build_problem(parse_spec(SMALL)), __import__("jax").random.key(0))
    with pytest.raises(ValueError, match="arrays"):  # a momentum checkpoint is not a plain one
        checkpoint.load(tmp_path / "run" / "checkpoint.npz", plain)
    lr = pd.read_parquet(tmp_path / "run" / "history.parquet")["learning_rate"].to_numpy()
    np.testing.assert_allclose(lr[:5], 0.05 * np.array([0.25, 0.5, 0.75, 1.0, 1.0]))
    assert spec.spec_hash != parse_spec(SMALL).spec_hash
    assert parse_spec({**SMALL, "optimizer": {**SMALL["optimizer"], "momentum": 0.0}}).spec_hash == parse_spec(SMALL).spec_hash


def test_a_run_sampling_a_power_of_psi_reaches_the_energy_and_records_the_power(tmp_path):
    """sampler.power 1 end to end: the optimisation lowers the energy on the reweighted
    estimates, the final estimate agrees with the exact energy within its error bar, and the
    tables carry the power as a coordinate."""
    from nqs_sweep.physics.exact import ground_state

    raw = {**SMALL, "sampler": {**SMALL["sampler"], "power": 1.0, "n_samples_eval": 4096}}
    spec = parse_spec(raw)
    exact = ground_state(spec).energy
    summary = run_vmc(spec, tmp_path / "run", exact_energy=exact, show_progress=False)
    history = pd.read_parquet(tmp_path / "run" / "history.parquet")
    row = summary.iloc[0]
    assert history["energy"].iloc[-5:].mean() < history["energy"].iloc[:3].mean()
    assert row["status"] in ("converged", "not_converged") and row["sampler_power"] == 1.0
    assert 0 < row["energy_error"] and row["energy"] - exact > -4 * row["energy_error"]  # variational, within its bar
    assert (history["sampler_power"] == 1.0).all()


def test_progress_is_shown_on_stderr(tmp_path, capsys):
    spec_path = write_spec(tmp_path / "spec.yaml", SMALL)
    assert cli.main(["vmc", "--spec", str(spec_path), "--out", str(tmp_path / "run"), "--exact", "none"]) == 0
    captured = capsys.readouterr()
    assert "20/20" in captured.err and "E=" in captured.err
    assert "status" in captured.out


def test_one_sample_per_chain_runs(tmp_path):
    """n_samples == n_chains is allowed; τ is 0 and R̂ undefined, not a crash."""
    raw = {**SMALL, "sampler": {"n_samples": 8, "n_chains": 8}, "optimizer": {**SMALL["optimizer"], "n_iter": 3}}
    row = run_vmc(parse_spec(raw), tmp_path / "run", show_progress=False).iloc[0]
    assert row["status"] != "failed" and np.isfinite(row["energy"])


def test_failed_exact_diagonalisation_is_recorded(tmp_path, monkeypatch):
    def boom(spec, keep_vector=False):
        raise MemoryError("no room for the Lanczos vectors")

    monkeypatch.setattr(cli, "exact_reference", boom)
    spec_path = write_spec(tmp_path / "spec.yaml", SMALL)
    assert cli.main(["exact", "--spec", str(spec_path), "--out", str(tmp_path / "ref")]) == 1
    assert cli.main(["exact", "--spec", str(spec_path), "--out", str(tmp_path / "ref"), "--record-failures"]) == 0
    row = pd.read_parquet(tmp_path / "ref" / "exact.parquet").iloc[0]
    assert row["status"] == "failed" and np.isnan(row["exact_energy"]) and "Lanczos" in row["error_message"]


def test_the_summary_reports_the_sampling_health(tmp_path):
    """A short healthy run has an empty health column; the flags themselves are tested in test_stats."""
    summary = run_vmc(parse_spec(SMALL), tmp_path / "run", show_progress=False).iloc[0]
    assert "health" in summary and isinstance(summary["health"], str)
    assert "acceptance" not in summary["health"]


def test_steps_whose_solve_fell_back_are_in_the_health_column(tmp_path):
    # With the exact sampler on 16 states the sample-space kernel of the centred Jacobian has rank
    # at most 15 (centring removes one direction): with no diagonal shift Cholesky breaks down
    # and the step falls back to the pseudo-inverse.
    raw = {
        "model": {"name": "tfim", "J": 1.0, "h": 1.0},
        "lattice": {"kind": "chain", "L": 4},
        "ansatz": {"name": "rbm", "alpha": 2, "dtype": "float64"},
        "sampler": {"kind": "exact"},
        "optimizer": {"kind": "minsr", "learning_rate": 0.05, "diag_shift": 0.0, "n_iter": 4},
    }
    run_vmc(parse_spec(raw), tmp_path / "run", show_progress=False)
    history = pd.read_parquet(tmp_path / "run" / "history.parquet")
    summary = pd.read_parquet(tmp_path / "run" / "summary.parquet").iloc[0]
    n_fell_back = int((history["solver_fallback"] > 0).sum())
    assert n_fell_back > 0, history["solver_fallback"].tolist()
    assert f"solver_fallback={n_fell_back} of 4 steps" in summary["health"]


def test_trust_radius_scales_an_update_down_to_its_fubini_study_length():
    """optimizer.trust_radius r: the step's update u has the Fubini-Study length lr·|Õu| (the
    history's step_length, checked against the Jacobian of the same configurations); a longer one
    is scaled down to r, a shorter one is taken whole, and r = 0 is the plain step (same hash)."""
    import jax
    import jax.numpy as jnp

    from nqs_sweep.mc.estimate import estimate, make_hyper
    from nqs_sweep.mc.estimators import centred_jacobian
    from nqs_sweep.optim.step import make_step

    def one_step(radius: float):
        raw = {**SMALL, "sampler": {"kind": "exact"}, "optimizer": {**SMALL["optimizer"], "trust_radius": radius}}
        spec = parse_spec(raw)
        problem = build_problem(spec)
        state = init_state(problem, jax.random.key(0))
        new, metrics = make_step(problem)(state, jax.random.key(1), make_hyper(spec))
        return spec, problem, state, np.asarray(new.theta - state.theta), metrics

    spec_off, _, _, update_off, metrics_off = one_step(0.0)
    assert "step_length" not in metrics_off
    assert spec_off.spec_hash == parse_spec({**SMALL, "sampler": {"kind": "exact"}}).spec_hash

    _, problem, state, update_wide, metrics = one_step(1e9)
    np.testing.assert_array_equal(update_wide, update_off)
    length = float(metrics["step_length"])
    est = estimate(problem, state.theta, state.chains, jax.random.key(1), make_hyper(spec_off), 0)
    jac, _ = centred_jacobian(problem.ansatz, state.theta, est.configs, est.e_loc, est.weights, real_only=True)
    np.testing.assert_allclose(float(jnp.linalg.norm(jac.matvec(jnp.asarray(update_off)))), length, rtol=1e-10)

    _, _, _, update_half, metrics_half = one_step(length / 2)
    np.testing.assert_allclose(update_half, update_off / 2, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(float(metrics_half["learning_rate"]), float(metrics_off["learning_rate"]) / 2, rtol=1e-10)
