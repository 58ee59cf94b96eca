"""A bad study stops Snakemake before any job starts, naming the field."""

import pytest

from conftest import snakemake, tiny_study, write_study


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
    [
        (unknown_key, ["colour"]),
        (empty_axis, ["lattice.L"]),
        (bad_name, ["study"]),
        (zero_width, ["alpha"]),
        (duplicate, ["duplicate"]),
        (odd_marshall, ["marshall_sign", "bipartite"]),
    ],
    ids=["unknown-key", "empty-axis", "study-name", "zero-width", "duplicate", "odd-L-marshall"],
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
