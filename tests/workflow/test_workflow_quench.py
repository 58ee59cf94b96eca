"""Quenches through the workflow: ground states chained into t-VMC jobs, tables, figures."""

import shutil

import pandas as pd
import pytest
import yaml

from conftest import REPO, planned_jobs, snakemake, write_study

QUENCH = REPO / "tests" / "workflow" / "quench_tiny.yaml"


def quench_study() -> dict:
    return yaml.safe_load(QUENCH.read_text())


@pytest.mark.slow
def test_quench_study_runs_end_to_end(workdir):
    shutil.copy(QUENCH, workdir / "quench_tiny.yaml")
    plan = planned_jobs(snakemake(workdir, "--configfile", "quench_tiny.yaml", "-n"))
    # two initial ground states (h = 0.5, alpha 1 and 2), two quenches, one figure per quench
    assert plan["vmc"] == 2 and plan["tvmc"] == 2 and plan["plot_dynamics"] == 2 and plan["plot_dynamics_error"] == 1
    snakemake(workdir, "--cores", "2", "--configfile", "quench_tiny.yaml")
    res = workdir / "results" / "quench_tiny"
    dyn = pd.read_parquet(res / "tables" / "dynamics.parquet")
    assert set(dyn["alpha"]) == {1.0, 2.0} and set(dyn["observable"]) == {"sx", "energy"}
    assert dyn["exact_value"].notna().all() and (dyn["initial_h"] == 0.5).all() and (dyn["h"] == 1.0).all()
    quenches = pd.read_parquet(res / "tables" / "quenches.parquet")
    assert (quenches["status"] == "completed").all() and quenches["initial_rel_error"].notna().all()
    assert len(list((res / "figures" / "dynamics").glob("*.png"))) == 2
    assert (res / "figures" / "dynamics_error.png").stat().st_size > 1000
    # the initial ground states are study points: their energies are in the energies table
    energies = pd.read_parquet(res / "tables" / "energies.parquet")
    assert set(energies["h"]) == {0.5}
    assert "tvmc" not in planned_jobs(snakemake(workdir, "--configfile", "quench_tiny.yaml", "-n"))  # nothing left to do


@pytest.mark.parametrize(
    "patch,words",
    [({"dynamics": {"t_final": -1.0}}, ["quenches.defaults.dynamics.t_final"])],
    ids=["negative-t_final"],  # the other refusals are unit tests of the expansion (tests/test_study.py)
)
def test_bad_quench_is_refused_before_any_job(workdir, patch, words):
    study = quench_study()
    for key, value in patch.items():
        study["quenches"]["defaults"][key] = {**study["quenches"]["defaults"].get(key, {}), **value}
    write_study(workdir / "bad.yaml", study)
    proc = snakemake(workdir, "--configfile", "bad.yaml", "-n", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert all(w in out for w in words), out[-2000:]
    assert not (workdir / "results").exists()


@pytest.mark.slow
def test_a_study_of_quenches_alone_from_a_product_state_ends_with_its_last_words(workdir):
    """No ground-state point at all: its energies table has no rows, and the closing lines read
    the quenches table instead (they raised on the empty energies table before)."""
    study = quench_study()
    study["study"] = "product_quench"
    study["quenches"]["defaults"]["initial"] = {"kind": "product", "direction": "x"}
    study["quenches"]["grid"] = {"ansatz.alpha": [1]}
    write_study(workdir / "product.yaml", study)
    run = snakemake(workdir, "--cores", "2", "--configfile", "product.yaml")
    out = run.stdout + run.stderr
    assert "Study product_quench: tables in results/product_quench/tables/" in out and "Traceback" not in out, out[-3000:]
    assert "did not finish" not in out
    quenches = pd.read_parquet(workdir / "results" / "product_quench" / "tables" / "quenches.parquet")
    assert list(quenches["status"]) == ["completed"] and not (workdir / "results" / "product_quench" / "vmc").exists()
