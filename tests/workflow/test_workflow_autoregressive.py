"""The autoregressive ansatz through the workflow: vmc on direct samples, QGT, sampling
efficiency (table and figure) and a t-VMC quench, next to an RBM with Metropolis."""

import shutil

import pandas as pd
import pytest

from conftest import REPO, planned_jobs, snakemake

STUDY = REPO / "tests" / "workflow" / "autoregressive_tiny.yaml"


@pytest.mark.slow
def test_autoregressive_study_runs_end_to_end(workdir):
    shutil.copy(STUDY, workdir / STUDY.name)
    plan = planned_jobs(snakemake(workdir, "--configfile", STUDY.name, "-n"))
    assert plan["vmc"] == 2 and plan["sampling_efficiency"] == 2 and plan["tvmc"] == 1, plan
    snakemake(workdir, "--cores", "2", "--configfile", STUDY.name)
    res = workdir / "results" / "autoregressive_tiny"

    energies = pd.read_parquet(res / "tables" / "energies.parquet").set_index("ansatz")
    assert energies.loc["arnn", "sampler"] == "direct" and energies.loc["rbm", "sampler"] == "metropolis"
    assert (energies["rel_error"] < 0.02).all(), energies["rel_error"]

    sampling = pd.read_parquet(res / "tables" / "sampling.parquet")
    drawn = sorted(zip(sampling["ansatz"], sampling["draw_sampler"]))
    assert drawn == [("arnn", "direct"), ("arnn", "metropolis"), ("rbm", "metropolis")]
    direct = sampling[sampling["draw_sampler"] == "direct"].iloc[0]
    assert direct["acceptance"] == 1.0 and direct["draw_size"] == 512
    assert (sampling["effective_samples_per_s"] > 0).all() and (sampling["n_effective"] <= sampling["draw_size"]).all()

    ranks = pd.read_parquet(res / "tables" / "qgt_rank.parquet")
    assert set(ranks["ansatz"]) == {"arnn", "rbm"} and (ranks["source"] == "exact").all()

    quench = pd.read_parquet(res / "tables" / "quenches.parquet")
    assert (quench["status"] == "completed").all() and (quench["ansatz"] == "arnn").all()
    dyn = pd.read_parquet(res / "tables" / "dynamics.parquet")
    sx = dyn[dyn["observable"] == "sx"]
    # the +x product state at t = 0, exactly represented
    assert sx.loc[sx["time"] == 0, "value"].iloc[0] == pytest.approx(1.0, abs=1e-12)
    assert sx["exact_value"].notna().all()

    for name in ("sampling_efficiency", "qgt_rank", "error_vs_width"):
        assert (res / "figures" / f"{name}.png").stat().st_size > 1000
