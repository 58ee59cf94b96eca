"""Measurements through the workflow: each point writes its table, the reference keeps its
ground state, the study's table joins the exact values, and the figure is drawn."""

import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, planned_jobs, snakemake

STUDY = REPO / "tests" / "workflow" / "measurements_tiny.yaml"


@pytest.mark.slow
def test_measurement_study_joins_exact_values(workdir):
    shutil.copy(STUDY, workdir / STUDY.name)
    plan = planned_jobs(snakemake(workdir, "--configfile", STUDY.name, "-n"))
    assert plan["vmc"] == 2 and plan["exact_reference"] == 1 and plan["measurements"] == 1, plan
    assert plan["tvmc"] == 1 and plan["plot_entanglement_growth"] == 1, plan
    snakemake(workdir, "--cores", "2", "--configfile", STUDY.name)
    res = workdir / "results" / "measurements_tiny"

    assert len(list((res / "exact").rglob("ground_state.npz"))) == 1
    df = pd.read_parquet(res / "tables" / "measurements.parquet")
    assert set(df["measurement"]) == {"correlations", "structure_factor", "renyi2"}
    assert len(df) == 2 * (8 + 8 + 4)  # per point: 4 distances x 2 components, 8 momenta, 4 blocks
    assert df["exact"].notna().all() and (df["flag"] == "").all()
    # the exact ground state of the Heisenberg chain is a singlet: S2 of one site is ln 2
    one_site = df[(df["measurement"] == "renyi2") & (df["argument"] == "site 0")]
    assert np.allclose(one_site["exact"], np.log(2), atol=1e-10)
    # after 60 steps each network's nearest-neighbour ⟨σᶻσᶻ⟩ is within 0.05 of the exact -0.6: a
    # coarse check that the join puts each row's exact value beside it (not another row's)
    nn = df[df["argument"] == "zz r=1"]
    assert ((nn["value"] - nn["exact"]).abs() < 0.05).all(), nn
    assert (res / "figures" / "measurements.png").stat().st_size > 1000

    # the quench: S2 of the half chain at each measurement time, beside the exact Krylov state's
    dyn = pd.read_parquet(res / "tables" / "dynamics.parquet")
    s2 = dyn[dyn["observable"] == "renyi2: sites 0-2"].sort_values("time")
    assert list(s2["time"]) == pytest.approx([0.0, 0.1, 0.2]) and s2["exact_value"].notna().all()
    assert s2["exact_value"].iloc[0] == pytest.approx(0.0, abs=1e-12) and s2["exact_value"].iloc[-1] > 0.01
    assert (res / "figures" / "entanglement_growth.png").stat().st_size > 1000
