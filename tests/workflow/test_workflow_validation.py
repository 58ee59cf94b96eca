"""A bad study stops Snakemake before any job starts, naming the field.

Two refusals go through Snakemake itself (one by the JSON schema, one by the solver's
parser); the others run the same two checks common.smk runs, in-process, which costs
milliseconds instead of a Snakemake start-up each.
"""

import pytest
import yaml

from conftest import REPO, snakemake, tiny_study, write_study
from nqs_sweep.study import StudyError, expand_study


def unknown_key(s):
    s["colour"] = "red"


def empty_axis(s):
    s["grid"]["lattice.L"] = []


def bad_name(s):
    s["study"] = "../elsewhere"


def zero_width(s):
    s["grid"]["ansatz.alpha"] = [0]


def duplicate(s):
    s["grid"]["lattice.L"] = [6, 6]


def odd_marshall(s):
    s["defaults"]["model"] = {"name": "heisenberg"}
    s["defaults"]["marshall_sign"] = True
    s["grid"]["lattice.L"] = [5]


@pytest.mark.parametrize(
    "mutate,words",
    [(unknown_key, ["colour"]), (odd_marshall, ["marshall_sign", "bipartite"])],
    ids=["unknown-key", "odd-L-marshall"],
)
def test_bad_study_is_refused_before_any_job(workdir, mutate, words):
    study = tiny_study()
    mutate(study)
    write_study(workdir / "bad.yaml", study)
    proc = snakemake(workdir, "--configfile", "bad.yaml", "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for word in words:
        assert word in out, out[-2000:]
    assert not (workdir / "results").exists()


def test_a_study_file_with_a_repeated_key_is_refused_before_any_job(workdir):
    # Snakemake's own YAML reading keeps the last of two equal keys: an axis written twice would
    # silently lose its first values. The study file is read again by the solver's loader.
    text = (REPO / "tests" / "workflow" / "tiny.yaml").read_text()
    repeated = text.replace("  ansatz.alpha: [1, 2]\n", "  ansatz.alpha: [1, 2]\n  lattice.L: [10]\n")
    assert repeated != text
    (workdir / "repeated.yaml").write_text(repeated)
    proc = snakemake(workdir, "--configfile", "repeated.yaml", "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "invalid study" in out and "repeated.yaml" in out and "duplicate key 'lattice.L'" in out, out[-2000:]
    assert not (workdir / "results").exists()


def refusal(study: dict) -> str:
    """The message of the first of common.smk's checks that refuses the study ('' if none does)."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(study, str(REPO / "workflow" / "schemas" / "study.schema.yaml"))
        expand_study(study)
    except (WorkflowError, StudyError) as err:
        return str(err)
    return ""


@pytest.mark.parametrize(
    "mutate,words",
    [
        (unknown_key, ["colour"]),
        (empty_axis, ["lattice.L"]),
        (bad_name, ["study"]),
        (zero_width, ["alpha"]),
        (duplicate, ["duplicate"]),
        (odd_marshall, ["marshall_sign", "bipartite"]),
        (lambda s: s.update(sampling={"repeats": 0}), ["repeats"]),
        (lambda s: s.update(sampling={"n_samples": 4}), ["sampling.n_samples", "n_chains (8"]),
        (lambda s: s["defaults"].update(sampler={"kind": "direct"}), ["sampler.kind", "arnn"]),
    ],
    ids=[
        "unknown-key",
        "empty-axis",
        "study-name",
        "zero-width",
        "duplicate",
        "odd-L-marshall",
        "sampling-repeats",
        "sampling-below-chains",
        "direct-rbm",
    ],  # fmt: skip
)
def test_bad_study_is_refused_by_the_workflow_checks(mutate, words):
    study = yaml.safe_load(yaml.safe_dump(tiny_study()))
    mutate(study)
    message = refusal(study)
    assert message and all(w in message for w in words), message
    assert refusal(tiny_study()) == ""
