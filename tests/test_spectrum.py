"""QGT spectra and ranks of finished runs, against dense references."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import yaml

from nqs_sweep import cli
from nqs_sweep.analysis.spectrum import infidelity, spectrum_history_table, spectrum_table
from nqs_sweep.jobs import checkpoint
from nqs_sweep.jobs.lifecycle import CHECKPOINT
from nqs_sweep.jobs.vmc import run_vmc
from nqs_sweep.mc.estimators import centred_real_rows, local_energies, log_derivatives
from nqs_sweep.mc.sampler import exact_sample
from nqs_sweep.models import make_ansatz
from nqs_sweep.optim.qgt import qgt_spectrum, ranks
from nqs_sweep.optim.step import init_state
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.hamiltonians import build_hamiltonian
from nqs_sweep.problem import build_problem
from nqs_sweep.spec import parse_spec
from reference import dense_qgt

RAW = {
    "model": {"name": "heisenberg"},
    "lattice": {"kind": "chain", "L": 6},
    "hilbert": {"sector": "zero_magnetization"},
    "ansatz": {"name": "rbm", "alpha": 2, "dtype": "complex128"},
    "sampler": {"kind": "exact"},
    "optimizer": {"kind": "sr", "learning_rate": 0.05, "n_iter": 30},
    "marshall_sign": True,
}


def test_spectrum_of_a_run_equals_the_dense_qgt_spectrum(tmp_path):
    spec = parse_spec(RAW)
    run_vmc(spec, tmp_path / "run", show_progress=False)
    df = spectrum_table(tmp_path / "run")
    ansatz = make_ansatz(spec)
    state, _ = checkpoint.load(tmp_path / "run" / CHECKPOINT, init_state(build_problem(spec, ansatz), jax.random.key(0)))
    states = jnp.asarray(hilbert.all_states(6, "zero_magnetization"))
    ref = np.sort(np.linalg.eigvalsh(dense_qgt(ansatz.log_psi, state.theta, states)))[::-1]
    assert df["source"].iloc[0] == "exact" and len(df) == ansatz.n_real_params
    np.testing.assert_allclose(df["eigenvalue"], ref, atol=1e-10 * ref[0])
    assert (np.diff(df["eigenvalue"]) <= 0).all()
    assert df["hilbert_dim"].iloc[0] == 20
    # A complex ψ on 20 states has at most 2·20 − 2 independent directions (norm and phase drop out).
    assert df["rank_rel_1e-10"].iloc[0] <= 38
    assert 0 <= df["infidelity"].iloc[0] < 1


def test_spectrum_history_holds_each_snapshot_with_its_energy_and_the_final_state(tmp_path):
    """Snapshots every 10 of 30 iterations: the spectra of θ_0, θ_10, θ_20 and the final θ, each the
    dense QGT's, each with the energy the history recorded for that θ and its infidelity."""
    spec = parse_spec({**RAW, "snapshot_every": 10})
    run_vmc(spec, tmp_path / "run", show_progress=False)
    df = spectrum_history_table(tmp_path / "run")
    assert sorted(df["iteration"].unique()) == [0, 10, 20, 30]
    ansatz = make_ansatz(spec)
    states = jnp.asarray(hilbert.all_states(6, "zero_magnetization"))
    snapshots = np.load(tmp_path / "run" / "snapshots.npz")
    history = pd.read_parquet(tmp_path / "run" / "history.parquet").set_index("iteration")["energy"]
    for it, theta in zip(snapshots["iteration"], snapshots["theta"]):
        rows = df[df["iteration"] == it]
        ref = np.sort(np.linalg.eigvalsh(dense_qgt(ansatz.log_psi, jnp.asarray(theta), states)))[::-1]
        np.testing.assert_allclose(rows["eigenvalue"], ref, atol=1e-10 * ref[0])
        assert rows["rank_rel_1e-6"].iloc[0] == ranks(ref)["rank_rel_1e-6"]
        if it < 30:
            assert rows["energy"].iloc[0] == history[it]
        assert rows["infidelity"].iloc[0] == pytest.approx(infidelity(spec, ansatz, jnp.asarray(theta)), abs=1e-12)
    final = df[df["iteration"] == 30]
    np.testing.assert_allclose(final["eigenvalue"], spectrum_table(tmp_path / "run")["eigenvalue"], atol=1e-14)
    assert final["energy"].iloc[0] == pd.read_parquet(tmp_path / "run" / "summary.parquet")["energy"].iloc[0]
    # the optimisation moved away from the nearly uniform start: the infidelity fell
    assert df[df["iteration"] == 0]["infidelity"].iloc[0] > 10 * final["infidelity"].iloc[0]


def test_qgt_of_an_unfinished_run_labels_its_checkpoint_with_its_iteration(tmp_path, capsys):
    """A run with a checkpoint and no summary (killed, or still running): spectrum.parquet is the
    checkpoint θ's, and the history holds the snapshots up to it, energies from the partial history."""
    spec = parse_spec({**RAW, "snapshot_every": 10})
    run_vmc(spec, tmp_path / "run", checkpoint_every=10, show_progress=False)
    for name in ("summary.parquet", "history.parquet"):  # what a run killed after its last checkpoint lacks
        (tmp_path / "run" / name).unlink()
    assert cli.main(["qgt", "--run", str(tmp_path / "run")]) == 0
    history = pd.read_parquet(tmp_path / "run" / "spectrum_history.parquet")
    final = pd.read_parquet(tmp_path / "run" / "spectrum.parquet")
    assert sorted(history["iteration"].unique()) == [0, 10, 20, 30] and (history["status"] == "unfinished").all()
    partial = pd.read_parquet(tmp_path / "run" / "history.partial.parquet").set_index("iteration")["energy"]
    assert history.query("iteration == 20")["energy"].iloc[0] == partial[20]
    assert np.isnan(history.query("iteration == 30")["energy"].iloc[0])  # θ_30 was never evaluated
    np.testing.assert_array_equal(final["eigenvalue"], history.query("iteration == 30")["eigenvalue"])
    assert "iteration" not in final and len(final) == make_ansatz(spec).n_real_params


def test_duplicated_hidden_units_lose_exactly_their_directions():
    """Two identical hidden units make N + 1 directions (b_j − b_j', W_j − W_j') null."""
    spec = parse_spec({**RAW, "hilbert": {"sector": "full"}, "ansatz": {"name": "rbm", "alpha": 1, "dtype": "float64"}})
    ansatz = make_ansatz(spec)
    theta = 0.3 * jax.random.normal(jax.random.key(1), (ansatz.n_real_params,))
    tree = ansatz.to_tree(theta)
    tree["b"] = tree["b"].at[1].set(tree["b"][0])
    tree["W"] = tree["W"].at[1].set(tree["W"][0])
    dup = jax.flatten_util.ravel_pytree(tree)[0]
    states = jnp.asarray(hilbert.all_states(6, "full"))
    weights = exact_sample(ansatz.log_psi, dup, states).weights
    e_loc = local_energies(build_hamiltonian(spec), ansatz.log_psi, dup, states)
    o_t, _ = centred_real_rows(log_derivatives(ansatz.log_psi, dup, states), e_loc, weights)
    evals = np.asarray(qgt_spectrum(o_t))
    expected = np.linalg.matrix_rank(dense_qgt(ansatz.log_psi, dup, states), tol=1e-10 * evals[0])
    assert ranks(evals)["rank_rel_1e-10"] == expected
    assert expected <= ansatz.n_real_params - (6 + 1)
    generic = np.asarray(qgt_spectrum(centred_real_rows(log_derivatives(ansatz.log_psi, theta, states), e_loc, weights)[0]))
    assert ranks(generic)["rank_rel_1e-10"] > expected


def test_rank_saturates_at_the_hilbert_dimension():
    """A real positive ψ on 16 states spans at most 15 directions, however many parameters it has."""
    spec = parse_spec({**RAW, "lattice": {"kind": "chain", "L": 4}, "hilbert": {"sector": "full"},
                       "ansatz": {"name": "rbm", "alpha": 4, "dtype": "float64"}})  # fmt: skip
    ansatz = make_ansatz(spec)
    theta = 0.3 * jax.random.normal(jax.random.key(2), (ansatz.n_real_params,))
    states = jnp.asarray(hilbert.all_states(4, "full"))
    w = exact_sample(ansatz.log_psi, theta, states).weights
    o_t, _ = centred_real_rows(log_derivatives(ansatz.log_psi, theta, states), jnp.zeros(16, jnp.complex128), w)
    r = ranks(qgt_spectrum(o_t))
    assert ansatz.n_real_params == 84 and r["rank_rel_1e-10"] == 15


def test_qgt_cli_writes_the_contract_columns_and_refuses_a_non_run(tmp_path, capsys):
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({**RAW, "sampler": {"n_samples": 256, "n_chains": 16, "move": "exchange"},
                                                        "hilbert": {"sector": "zero_magnetization"}}))  # fmt: skip
    assert cli.main(["vmc", "--spec", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert cli.main(["qgt", "--run", str(tmp_path / "run"), "--n-samples", "1024"]) == 0
    df = pd.read_parquet(tmp_path / "run" / "spectrum.parquet")
    cols = {"eigenvalue", "n_params", "hilbert_dim", "rank_abs_1e-5", "rank_rel_1e-6", "rank_rel_1e-10", "source", "spec_hash"}
    assert cols <= set(df.columns) and df["source"].iloc[0] == "n_samples=1024"
    # no snapshots: the history holds the final iteration alone, its spectrum from its own sample
    history = pd.read_parquet(tmp_path / "run" / "spectrum_history.parquet")
    assert list(history["iteration"].unique()) == [30] and (cols | {"energy", "infidelity"}) <= set(history.columns)
    np.testing.assert_array_equal(history["eigenvalue"], df["eigenvalue"])
    assert history["source"].iloc[0] == "n_samples=1024"
    assert cli.main(["qgt", "--run", str(tmp_path / "nothing")]) == 2
    assert "no finished" in capsys.readouterr().err

    # the sampling-efficiency command on the same run: Metropolis only (an RBM has no direct sampler)
    assert cli.main(["sampling", "--run", str(tmp_path / "run"), "--n-samples", "512", "--repeats", "1"]) == 0
    df = pd.read_parquet(tmp_path / "run" / "sampling.parquet")
    assert list(df["draw_sampler"]) == ["metropolis"] and df["draw_size"].iloc[0] == 512
    row = df.iloc[0]
    assert row["effective_samples_per_s"] == pytest.approx(512 / ((1 + 2 * row["tau_corr"]) * row["seconds_per_draw"]))
    assert 0 < row["acceptance"] < 1 and row["sampler"] == "metropolis" and row["spec_hash"] == df["spec_hash"].iloc[0]
    assert cli.main(["sampling", "--run", str(tmp_path / "run"), "--repeats", "0"]) == 2
    assert "--repeats" in capsys.readouterr().err
    for command in ("sampling", "qgt"):  # fewer samples than the run has chains
        assert cli.main([command, "--run", str(tmp_path / "run"), "--n-samples", "8"]) == 2
        err = capsys.readouterr().err
        assert "--n-samples" in err and "n_chains (16)" in err
    assert cli.main(["sampling", "--run", str(tmp_path / "nothing")]) == 2


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_run_spec_reads_back_to_the_same_spec(tmp_path, dtype):
    spec = parse_spec({**RAW, "ansatz": {"name": "rbm", "alpha": 1, "dtype": dtype}, "optimizer": {"n_iter": 2}})
    run_vmc(spec, tmp_path / "run", show_progress=False)
    assert parse_spec(yaml.safe_load((tmp_path / "run" / "run_spec.yaml").read_text())) == spec


def test_a_failed_run_gets_one_nan_row_from_qgt_and_sampling(tmp_path):
    """A point that failed before its first checkpoint still yields the tables the workflow
    joins: one NaN row with its status and coordinates, exit code 0."""
    from nqs_sweep.jobs.lifecycle import start_run
    from nqs_sweep.jobs.vmc import record_failure

    spec = parse_spec(RAW)
    start_run(tmp_path, spec.to_raw())
    record_failure(spec, tmp_path, "RuntimeError: boom")
    cases = (
        ("qgt", "spectrum.parquet", "eigenvalue"),
        ("qgt", "spectrum_history.parquet", "eigenvalue"),
        ("sampling", "sampling.parquet", "effective_samples_per_s"),
    )
    for command, table, column in cases:
        assert cli.main([command, "--run", str(tmp_path)]) == 0
        df = pd.read_parquet(tmp_path / table)
        assert len(df) == 1 and df["status"].iloc[0] == "failed" and np.isnan(df[column].iloc[0])
        assert df["spec_hash"].iloc[0] == spec.spec_hash
