"""The paper's figure set through Snakemake (workflow/paper.smk), in miniature: every figure with
its PDF, PNG, table and manifest; nothing redone when nothing changed; one changed point redoes
that point and the figures drawn from its study only. And the cluster scale, planned through the
SLURM paper profile."""

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, planned_jobs, snakemake
from nqs_sweep.figures.paper_config import PAPER_STUDIES, PaperConfigError, check_paper
from nqs_sweep.figures.paper_figures import FIGURES
from nqs_sweep.study import expand_study

pytestmark = pytest.mark.slow
PAPER = "tests/workflow/paper/paper_tiny.yaml"


def paper_workdir(workdir):
    (workdir / "tests" / "workflow").mkdir(parents=True)
    shutil.copytree(REPO / "tests" / "workflow" / "paper", workdir / "tests" / "workflow" / "paper")
    return workdir


def run_paper(workdir, *args):
    return snakemake(workdir, "-s", "workflow/paper.smk", "--cores", "2", "--configfile", PAPER, *args, timeout=900)


def study_files(workdir):
    return yaml.safe_load((workdir / PAPER).read_text())["studies"]


def test_tiny_paper_draws_every_figure_with_table_and_manifest_and_redoes_only_what_changed(workdir):
    workdir = paper_workdir(workdir)
    run = run_paper(workdir)
    assert "Paper figures (tiny): results/paper/tiny/" in run.stdout + run.stderr
    out = workdir / "results" / "paper" / "tiny"
    studies = {}
    for path in study_files(workdir).values():
        study = expand_study(yaml.safe_load((workdir / path).read_text()))
        studies[study.name] = study
    for figure in FIGURES:
        for ext in ("png", "pdf", "parquet", "manifest.json"):
            assert (out / f"{figure}.{ext}").stat().st_size > 500, (figure, ext)
        assert len(pd.read_parquet(out / f"{figure}.parquet")) > 0, figure
        m = json.loads((out / f"{figure}.manifest.json").read_text())
        assert m["figure"] == figure and m["scale"] == "tiny"
        # every computation of the study the figure reads is listed, where it ran, at which revision
        (name,) = {Path(i["path"]).parts[1] for k, i in m["inputs"].items() if not k.startswith("code_")}
        hashes = {r["spec_hash"] for r in m["points"]["runs"]}
        assert {p.spec.spec_hash for p in studies[name].points} <= hashes, figure
        assert all(r["device"] and r["git_revision"] for r in m["points"]["runs"])
        assert m["drawing"]["git"]["revision"] and m["drawing"]["packages"]["snakemake"] != "not installed"
        assert {"code_paper_figures", "code_plots"} <= set(m["inputs"])
        for ext in ("png", "pdf", "parquet"):
            assert m["outputs"][f"{figure}.{ext}"] == hashlib.sha256((out / f"{figure}.{ext}").read_bytes()).hexdigest()
    # each study's own targets were made too
    assert (workdir / "results" / "width_tiny" / "figures" / "error_vs_width.png").exists()

    # the published reference of the width study reached its point, and says it is published
    energies = pd.read_parquet(out / "accuracy_vs_width.parquet")
    heis = energies[energies["model"] == "heisenberg"].iloc[0]
    assert heis["exact_energy"] == pytest.approx(-1.8 * 8) and heis["reference_method"] == "published"
    assert heis["rel_error"] == pytest.approx(abs(heis["energy"] + 14.4) / 14.4)
    assert set(energies.loc[energies["model"] == "tfim", "reference_method"]) == {"free_fermions"}

    # nothing changed: nothing to do; redrawn from the same tables: the same bytes
    assert planned_jobs(run_paper(workdir, "-n")) == {}
    before = {p.name: p.read_bytes() for p in out.glob("*.p*")}
    run_paper(workdir, "--forcerun", "paper_figure")
    assert before == {p.name: p.read_bytes() for p in out.glob("*.p*")}
    # one point of the width study changes: that point, its study's tables and figures, and
    # the two paper figures drawn from them; no other study
    width = workdir / study_files(workdir)["width"]
    w = yaml.safe_load(width.read_text())
    w["grid"][0]["ansatz.alpha"] = [1, 3]
    width.write_text(yaml.safe_dump(w))
    plan = planned_jobs(run_paper(workdir, "-n"))
    assert plan["width_vmc"] == 2 and plan["paper_figure"] == 2, plan  # alpha 3 at h = 0.5 and 1
    assert not any(rule.startswith(("ansatz_", "sign_", "qgt_", "quench_", "volume_")) for rule in plan), plan


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda paper: paper["studies"].pop("sign"), "studies must name exactly width, ansatz, sign, qgt, quench, volume"),
        (lambda paper: paper["studies"].update(sign="no/such.yaml"), "studies.sign: no such study file"),
        (lambda paper: paper["studies"].update(qgt=paper["studies"]["width"]), "studies.qgt: "),
        (lambda paper: paper.update(paper="../elsewhere"), "paper: a plain name"),
        (lambda paper: paper["studies"].update(sign=paper["studies"]["ansatz"]), "distinct `study:` names"),
        (lambda paper: paper.update(figures=[]), "keys must be paper, studies"),
    ],
)
def test_a_bad_paper_file_is_refused_naming_what_is_wrong(change, words, monkeypatch):
    """paper.smk's check (nqs_sweep.figures.paper_config), in-process: one Snakemake start-up per case
    cost 10 s. The check's refusal through Snakemake itself is the test below."""
    monkeypatch.chdir(REPO)  # study paths are relative to the workflow's working directory
    paper = yaml.safe_load((REPO / PAPER).read_text())
    assert set(check_paper(paper)) == set(PAPER_STUDIES)
    change(paper)
    with pytest.raises(PaperConfigError) as err:
        check_paper(paper)
    assert words in str(err.value) and str(err.value).startswith("invalid paper file: ")


def test_a_bad_paper_file_is_refused_by_the_workflow_before_any_job(workdir):
    workdir = paper_workdir(workdir)
    paper = yaml.safe_load((workdir / PAPER).read_text())
    paper["studies"]["qgt"] = paper["studies"]["width"]
    (workdir / "bad_paper.yaml").write_text(yaml.safe_dump(paper))
    proc = snakemake(workdir, "-s", "workflow/paper.smk", "-n", "--configfile", "bad_paper.yaml", check=False)
    assert proc.returncode != 0
    assert "invalid paper file: studies.qgt: " in proc.stdout + proc.stderr
    assert "rule " not in proc.stdout  # no job was planned


def test_cluster_scale_is_planned_through_the_slurm_paper_profile(workdir):
    """`snakemake -n` of the cluster-scale paper through the SLURM profile: every study planned,
    every solver job with its GPU, CPUs and runtime from the profile."""
    proc = snakemake(
        workdir, "-s", "workflow/paper.smk", "-n", "--configfile", "config/paper/cluster.yaml",
        "--workflow-profile", "workflow/profiles/slurm-paper",
    )  # fmt: skip
    plan = planned_jobs(proc)
    cluster = yaml.safe_load((REPO / "config" / "paper" / "cluster.yaml").read_text())["studies"]
    for key, path in cluster.items():
        study = expand_study(yaml.safe_load((REPO / path).read_text()))
        assert plan.get(f"{key}_vmc", 0) == len(study.points), key  # the volume-law study has quenches only
    assert plan["quench_tvmc"] == 2 and plan["volume_tvmc"] == 3 and plan["qgt_qgt_spectrum"] == 12
    assert plan["paper_figure"] == len(FIGURES)
    text = proc.stdout + proc.stderr
    for rule in ("width_vmc", "ansatz_vmc", "sign_vmc", "qgt_vmc", "quench_vmc", "quench_tvmc", "volume_tvmc"):
        block = text.split(f"rule {rule}:", 1)[1].split("\n\n", 1)[0]
        assert "gres=gpu:1" in block and "cpus_per_task=4" in block, rule


def test_the_slurm_paper_profile_repeats_the_study_profile_for_every_prefix():
    base = yaml.safe_load((REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
    paper = yaml.safe_load((REPO / "workflow" / "profiles" / "slurm-paper" / "config.yaml").read_text())
    prefixes = PAPER_STUDIES
    for key in ("set-resources", "set-threads"):
        expected = {f"{p}_{rule}": v for p in prefixes for rule, v in base[key].items()}
        assert paper[key] == expected, key
    assert {k: v for k, v in paper.items() if not k.startswith("set-")} == {
        k: v for k, v in base.items() if not k.startswith("set-")
    }
