"""Quench physics against exact dynamics: the Ising chain from its h = 0.5 ground state to h = 1.

The issue's benchmark is L = 12 (numbers in docs/quenches.md, measured with the CLI). The suite runs it
at L = 12 with the translation-symmetric complex RBM (27 parameters, under a minute), and the
plain complex RBM on the same protocol at L = 8 to stay within its time budget.
"""

import numpy as np
import pandas as pd
import pytest

from nqs_sweep.jobs.tvmc import run_tvmc
from nqs_sweep.jobs.vmc import run_vmc
from nqs_sweep.quench import initial_point_spec, parse_quench

pytestmark = pytest.mark.slow

QUENCH = {
    "model": {"name": "tfim", "J": 1.0, "h": 1.0},
    "lattice": {"kind": "chain", "L": 8},
    "ansatz": {"name": "rbm", "alpha": 2, "dtype": "complex128"},
    "sampler": {"kind": "exact"},
    "optimizer": {"kind": "sr", "n_iter": 300, "learning_rate": 0.05, "diag_shift": 1e-4},
    "initial": {"kind": "ground_state", "model": {"h": 0.5}},
    "dynamics": {
        "kind": "real",
        "t_final": 1.0,
        "dt": 0.01,
        "integrator": "rk4",
        "save_every": 0.1,
        "observables": ["sx", "energy"],
    },
}


@pytest.fixture(scope="module")
def ground_state(tmp_path_factory):
    out = tmp_path_factory.mktemp("gs")
    summary = run_vmc(initial_point_spec(parse_quench(QUENCH)), out, show_progress=False)
    assert summary.iloc[0]["status"] != "failed"
    return out


def sx(out):
    traj = pd.read_parquet(out / "trajectory.parquet")
    return traj[traj["observable"] == "sx"].sort_values("time")


def test_exact_sampler_follows_the_exact_magnetisation(ground_state, tmp_path):
    summary = run_tvmc(parse_quench(QUENCH), tmp_path, initial_run=ground_state, show_progress=False).iloc[0]
    d = sx(tmp_path)
    assert d["abs_error"].max() <= 2e-3, d[["time", "value", "exact_value"]]
    assert d["value"].iloc[-1] - d["value"].iloc[0] > 0.2  # the quench is not a small perturbation
    assert summary["energy_drift_max"] < 1e-4
    assert summary["initial_rel_error"] < 1e-5


@pytest.mark.parametrize("power", [2.0, 1.0], ids=["born", "reweighted-from-psi"])
def test_metropolis_sampling_agrees_within_its_error_bars(ground_state, tmp_path, power):
    """Chains of |ψ|² and, reweighted, of |ψ| (biased sampling in t-VMC: the weights enter the
    TDVP equation and the observables' error bars)."""
    sampler = {"kind": "metropolis", "n_samples": 4096, "n_chains": 16, "n_discard": 16, "power": power}
    raw = {**QUENCH, "sampler": sampler}
    raw["dynamics"] = {**raw["dynamics"], "t_final": 0.5}  # the suite's time budget; [0, 1] at L = 12 in docs/quenches.md
    # The smooth pseudo-inverse (rcond 1e-8). The SNR filter at threshold 2 cuts most directions
    # here (8-86 of 304 kept) and misses by 4e-2: the ordered ground state concentrates the samples.
    run_tvmc(parse_quench(raw), tmp_path, initial_run=ground_state, show_progress=False)
    d = sx(tmp_path)
    assert (d["error"] > 0).all()
    assert d["abs_error"].max() <= 1e-2
    # a systematic error of at most 2e-3 on top of four standard errors at every time
    assert np.all(d["abs_error"] <= 4 * d["error"] + 2e-3), d[["time", "value", "error", "exact_value"]]


def test_symmetric_rbm_meets_the_issue_target_at_l12(tmp_path):
    """|⟨σˣ⟩ − exact| ≤ 2e-3 on [0, 1] for L = 12 with α = 2, the exact sampler, RK4 dt = 0.01.

    The translation-symmetric RBM of α = 2 has the plain α = 2 RBM's 24 hidden units with their
    weights tied by translation (Carleo & Troyer 2017); the plain one ends at 3.1e-3 (docs/quenches.md).
    """
    raw = {**QUENCH, "lattice": {"kind": "chain", "L": 12}, "ansatz": {"name": "rbm_symm", "alpha": 2, "dtype": "complex128"}}
    # seed 0 measured 1.5e-3; seed 1 2.0e-3: α = 2 is near the limit of this network (docs/quenches.md).
    q = parse_quench({**raw, "seed": 0})  # the default regulariser: smooth pseudo-inverse, rcond 1e-8
    assert run_vmc(initial_point_spec(q), tmp_path / "gs", show_progress=False).iloc[0]["status"] != "failed"
    summary = run_tvmc(q, tmp_path / "q", initial_run=tmp_path / "gs", show_progress=False).iloc[0]
    d = sx(tmp_path / "q")
    assert d["abs_error"].max() <= 2e-3, d[["time", "value", "exact_value"]]
    assert d["value"].iloc[-1] - d["value"].iloc[0] > 0.3
    assert summary["energy_drift_max"] < 1e-5
    assert summary["initial_rel_error"] < 1e-6
