"""The Snakemake study end to end on a tiny study: tables, figures, reruns, resume, failures."""

import json
import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import SNAKEMAKE, planned_jobs, snakemake, tiny_study, write_study
from nqs_sweep.study import expand_study

pytestmark = pytest.mark.slow

ENERGY_COLUMNS = {"energy", "energy_error", "variance", "v_score", "exact_energy", "rel_error", "n_params", "status", "runtime_s"}
COORDS = {"study", "model", "h", "J", "lattice", "L", "alpha", "ansatz", "seed", "spec_hash"}


def unprivileged_snakemake(workdir, *args):
    """Snakemake where permission bits hold: as root (CI) without CAP_DAC_OVERRIDE, which lets root
    write into a directory of mode 555."""
    prefix = ("setpriv", "--bounding-set=-dac_override", "--") if os.geteuid() == 0 else ()
    return snakemake(workdir, *args, prefix=prefix)


def summaries(workdir, study="tiny"):
    return sorted((workdir / "results" / study / "vmc").rglob("summary.parquet"))


def test_tiny_study_runs_end_to_end_and_reruns_only_what_changed(workdir):
    run = snakemake(workdir, "--configfile", "tiny.yaml")
    res = workdir / "results" / "tiny"
    # quiet by default (the default profile): no rule blocks or shell commands, and the last words
    # say where the results are
    out = run.stdout + run.stderr
    assert "rule vmc:" not in out and "nqs_sweep.cli vmc" not in out, out[-3000:]
    assert "Study tiny: tables in results/tiny/tables/, figures in results/tiny/figures/" in out, out[-3000:]
    assert "did not finish" not in out

    energies = pd.read_parquet(res / "tables" / "energies.parquet")
    assert len(energies) == 4
    assert ENERGY_COLUMNS | COORDS <= set(energies.columns)
    assert energies["exact_energy"].notna().all()
    assert (energies["rel_error"] < 0.05).all()
    assert set(energies["status"]) <= {"converged", "not_converged"}
    convergence = pd.read_parquet(res / "tables" / "convergence.parquet")
    assert len(convergence) == 4 * 40 and COORDS <= set(convergence.columns)
    ranks = pd.read_parquet(res / "tables" / "qgt_rank.parquet")
    assert len(ranks) == 4 and (ranks["source"] == "exact").all()
    assert (ranks["rank_rel_1e-10"] <= 2 * ranks["hilbert_dim"]).all() and ranks["rel_error"].notna().all()
    # two widths per size: each size a family, extrapolated to zero variance through its two points
    zero_variance = pd.read_parquet(res / "tables" / "zero_variance.parquet")
    assert len(zero_variance) == 2 and (zero_variance["n_sizes"] == 2).all(), zero_variance
    assert zero_variance["energy_extrapolated"].notna().all() and zero_variance["rel_error_best"].notna().all()
    for name in ("convergence", "error_vs_width", "energy_vs_coupling", "qgt_rank", "qgt_spectra", "zero_variance"):
        for ext in ("png", "pdf"):
            assert (res / "figures" / f"{name}.{ext}").stat().st_size > 1000
    # One exact reference per (model, couplings, lattice), shared by both widths.
    assert len(list((res / "exact").rglob("exact.parquet"))) == 2
    assert len(list((res / "logs" / "vmc").rglob("*.log"))) == 4
    assert len(list((res / "benchmarks" / "vmc").rglob("*.tsv"))) == 4

    dry = snakemake(workdir, "--configfile", "tiny.yaml", "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr

    snakemake(workdir, "--configfile", "tiny.yaml", "--report", "results/tiny/report.html")
    report = (res / "report.html").read_text(errors="replace")
    assert "convergence.png" in report and "error_vs_width.png" in report and "points.tsv" in report
    # the energies for a reader: a TSV in the report, one row per point, the reference beside each
    assert "energies.tsv" in report
    readable = pd.read_csv(res / "tables" / "energies.tsv", sep="\t")
    assert len(readable) == 4 and {"energy", "energy_error", "exact_energy", "rel_error", "status"} <= set(readable.columns)
    assert sorted(readable["energy"]) == pytest.approx(sorted(energies["energy"]), rel=1e-9)

    # A new width adds two points; nothing else is recomputed.
    stamps = {p: p.stat().st_mtime_ns for p in summaries(workdir)}
    study = tiny_study()
    study["grid"]["ansatz.alpha"] = [1, 2, 3]
    write_study(workdir / "tiny.yaml", study)
    plan = planned_jobs(snakemake(workdir, "--configfile", "tiny.yaml", "-n"))
    assert plan.get("vmc") == 2 and "exact_reference" not in plan
    snakemake(workdir, "--configfile", "tiny.yaml")
    assert {p: p.stat().st_mtime_ns for p in summaries(workdir) if p in stamps} == stamps
    assert len(summaries(workdir)) == 6

    # A changed solver setting for one size reruns that size's points only.
    study["points"] = None
    study["grid"] = [
        {"lattice.L": [6], "ansatz.alpha": [1, 2, 3]},
        {"lattice.L": [8], "ansatz.alpha": [1, 2, 3], "optimizer.n_iter": [41]},
    ]
    write_study(workdir / "tiny.yaml", {k: v for k, v in study.items() if v is not None})
    plan = planned_jobs(snakemake(workdir, "--configfile", "tiny.yaml", "-n"))
    assert plan.get("vmc") == 3, plan

    # Deleting one point's output reruns only it.
    write_study(workdir / "tiny.yaml", {**tiny_study(), "grid": {"lattice.L": [6, 8], "ansatz.alpha": [1, 2, 3]}})
    victim = summaries(workdir)[0]
    victim.unlink()
    plan = planned_jobs(snakemake(workdir, "--configfile", "tiny.yaml", "-n"))
    assert plan.get("vmc") == 1, plan


def test_killed_workflow_continues_each_point_from_its_checkpoint(workdir):
    study = tiny_study()
    study["study"] = "killed"
    study["grid"] = {"lattice.L": [8]}
    study["defaults"]["optimizer"]["n_iter"] = 2000
    write_study(workdir / "killed.yaml", study)
    proc = subprocess.Popen(
        [SNAKEMAKE, "--configfile", "killed.yaml", "--cores", "1"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    ckpt = None
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        found = list((workdir / "results" / "killed" / "vmc").rglob("checkpoint.npz")) if (workdir / "results").exists() else []
        if found:
            ckpt = found[0]
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake and its job, as a power cut would
    proc.wait()
    assert ckpt is not None, "no checkpoint before the deadline"
    assert not (ckpt.parent / "summary.parquet").exists()

    snakemake(workdir, "--configfile", "killed.yaml", "--unlock")
    snakemake(workdir, "--configfile", "killed.yaml", "--rerun-incomplete")
    assert "resuming" in (ckpt.parent / "run.log").read_text()
    energies = pd.read_parquet(workdir / "results" / "killed" / "tables" / "energies.parquet")
    assert len(energies) == 1 and energies["n_iter"].iloc[0] == 2000
    history = pd.read_parquet(ckpt.parent / "history.parquet")
    assert list(history["iteration"]) == list(range(2000))


def test_failed_point_is_recorded_and_the_sweep_completes(workdir):
    """One study with every fault a point can meet: an incompatible checkpoint (recorded failed), a
    damaged one (moved aside, the point runs afresh), an unwritable run directory (moved aside, the
    point runs afresh) and a diverging point; the tables and figures are made, each point's status in them."""
    study = tiny_study()
    study["study"] = "failing"
    write_study(workdir / "failing.yaml", study)
    points = expand_study(study).points
    run_dirs = [workdir / "results" / "failing" / "vmc" / p.path for p in points[:3]]
    for run_dir in run_dirs:
        run_dir.mkdir(parents=True)
    # An incompatible checkpoint (as from another version of the solver) makes one point fail.
    np.savez(
        run_dirs[0] / "checkpoint.npz",
        leaf_0000=np.zeros(3),
        __meta__=np.array(json.dumps({"spec_hash": points[0].spec.spec_hash, "runtime_s": 0.0})),
    )
    (run_dirs[1] / "checkpoint.npz").write_bytes(np.random.default_rng(0).bytes(4096))  # damaged
    # an interrupted run of the same point, left by another user: its spec and a file of its own
    (run_dirs[2] / "spec.yaml").write_text(yaml.safe_dump(points[2].spec.to_raw(), sort_keys=True))
    (run_dirs[2] / "left_behind.txt").write_text("")
    run_dirs[2].chmod(0o555)  # unwritable (for root too: see unprivileged_snakemake)
    run_dir = run_dirs[0]
    # and a fifth point diverges: a learning rate of 1e8 (explicit points are merged over the defaults)
    study["points"] = [{"lattice": {"L": 6}, "ansatz": {"alpha": 1}, "optimizer": {"learning_rate": 1.0e8}}]
    write_study(workdir / "failing.yaml", study)
    run = unprivileged_snakemake(workdir, "--configfile", "failing.yaml")
    last_words = "2 of 5 points did not finish (1 failed, 1 diverged): the status column says which."
    assert last_words in run.stdout + run.stderr, (run.stdout + run.stderr)[-3000:]
    energies = pd.read_parquet(workdir / "results" / "failing" / "tables" / "energies.parquet")
    assert len(energies) == 5
    failed = energies[energies["status"] == "failed"]
    assert len(failed) == 1 and "checkpoint" in failed["error_message"].iloc[0]
    diverged = energies[energies["status"] == "diverged"]
    assert list(diverged["variant"]) == ["optimizer_learning_rate~100000000.0"], energies[["status", "variant"]]
    assert energies["status"].isin(["converged", "not_converged"]).sum() == 3
    assert (run_dir / "error.txt").exists()
    assert (run_dirs[1] / "checkpoint.npz.damaged").exists() and "resuming" not in (run_dirs[1] / "run.log").read_text()
    aside = run_dirs[2].with_name(run_dirs[2].name + ".unwritable")
    assert (aside / "left_behind.txt").exists() and not (run_dirs[2] / "left_behind.txt").exists()
    by_hash = energies.set_index("spec_hash")["status"]
    assert {by_hash[p.spec.spec_hash] for p in points[1:3]} <= {"converged", "not_converged"}, by_hash
    assert (workdir / "results" / "failing" / "figures" / "error_vs_width.png").exists()
    ranks = pd.read_parquet(workdir / "results" / "failing" / "tables" / "qgt_rank.parquet")
    # no QGT spectrum of a point without a final state (failed) or with a diverged one
    assert sorted(ranks.loc[ranks["source"] == "none", "status"]) == ["diverged", "failed"], ranks[["source", "status"]]
    assert (workdir / "results" / "failing" / "figures" / "qgt_rank.png").exists()
