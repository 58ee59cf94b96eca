"""The CLI refuses bad input before any compute: exit code 2, a message naming the
field and what is allowed, and nothing written to --out (not even the directory)."""

import copy
import json
import math

import pandas as pd
import pytest
import yaml

import nqs_sweep.api as api
import nqs_sweep.cli as cli
import nqs_sweep.jobs.vmc as driver
import nqs_sweep.physics.exact as exact
from nqs_sweep.spec import EXACT_SAMPLER_MAX_SITES, load_spec, parse_spec

BASE = {
    "model": {"name": "tfim", "J": 1.0, "h": 1.0},
    "lattice": {"kind": "chain", "L": 6, "pbc": True},
    "ansatz": {"name": "rbm", "alpha": 1},
    "sampler": {"kind": "metropolis", "n_samples": 64, "n_chains": 8},
    "optimizer": {"kind": "sr", "n_iter": 2},
}


def base():
    return copy.deepcopy(BASE)


def with_(path, value):
    """A spec mutator that sets one dotted path (creating sections as needed)."""

    def mutate(spec):
        *sections, key = path.split(".")
        d = spec
        for s in sections:
            d = d.setdefault(s, {})
        d[key] = value

    return mutate


def without(path):
    """A spec mutator that deletes one dotted path."""

    def mutate(spec):
        *sections, key = path.split(".")
        d = spec
        for s in sections:
            d = d[s]
        del d[key]

    return mutate


def several(*mutators):
    def mutate(spec):
        for m in mutators:
            m(spec)

    return mutate


def write_spec(tmp_path, spec, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if anything starts a VMC run or a diagonalisation.

    pytest.fail raises a BaseException, so the CLI's `except Exception` cannot swallow it."""

    def forbidden(*args, **kwargs):
        pytest.fail("compute started on bad input")

    monkeypatch.setattr(driver, "run_vmc", forbidden)
    monkeypatch.setattr(driver, "record_failure", forbidden)
    monkeypatch.setattr(cli, "exact_reference", forbidden)
    monkeypatch.setattr(api, "exact_reference", forbidden)
    monkeypatch.setattr(exact, "ground_state", forbidden)


def run_cli(command, spec_path, out, *extra):
    argv = [command, "--spec", str(spec_path)]
    if command != "validate":
        argv += ["--out", str(out)]
    return cli.main(argv + list(extra))


BAD_SPECS = [
    pytest.param(with_("colour", "blue"), ("colour", "unknown key", "allowed", "optimizer"), id="unknown-top-level-key"),
    pytest.param(
        several(without("ansatz.alpha"), with_("ansatz.alhpa", 1)), ("ansatz.alhpa", "allowed", "alpha"), id="unknown-ansatz-key"
    ),
    pytest.param(with_("lattice.L", "ten"), ("lattice.L", "integer"), id="L-string"),
    pytest.param(with_("lattice.L", 6.0), ("lattice.L", "integer"), id="L-float"),
    pytest.param(with_("lattice.L", True), ("lattice.L", "integer"), id="L-bool"),
    pytest.param(with_("ansatz.alpha", "two"), ("ansatz.alpha", "number"), id="alpha-string"),
    pytest.param(with_("lattice.pbc", "yes"), ("lattice.pbc", "true or false"), id="pbc-string"),
    pytest.param(without("model.name"), ("model.name", "required"), id="missing-model-name"),
    pytest.param(without("lattice.L"), ("lattice.L", "required"), id="missing-lattice-L"),
    pytest.param(without("ansatz"), ("ansatz", "required"), id="missing-ansatz"),
    pytest.param(with_("lattice.L", 1), ("lattice.L", ">= 2"), id="L-below-2"),
    pytest.param(with_("ansatz.alpha", 0), ("ansatz.alpha", "> 0"), id="alpha-zero"),
    pytest.param(with_("ansatz.alpha", -1), ("ansatz.alpha", "> 0"), id="alpha-negative"),
    pytest.param(with_("sampler.n_samples", 4), ("sampler.n_samples", "sampler.n_chains", "8"), id="n_samples-below-n_chains"),
    pytest.param(with_("sampler.n_samples", 60), ("sampler.n_samples", "multiple", "8"), id="n_samples-not-multiple"),
    pytest.param(with_("model.h", math.inf), ("model.h", "finite"), id="h-inf"),
    pytest.param(with_("model.h", math.nan), ("model.h", "finite"), id="h-nan"),
    pytest.param(with_("model.name", "ising"), ("model.name", "tfim", "xxz", "j1j2"), id="unknown-model"),
    pytest.param(with_("ansatz.name", "cnn"), ("ansatz.name", "rbm", "ffnn"), id="unknown-ansatz"),
    pytest.param(with_("optimizer.kind", "lbfgs"), ("optimizer.kind", "sgd", "minsr"), id="unknown-optimizer"),
    pytest.param(with_("optimizer.momentum", 1.0), ("optimizer.momentum", "[0, 1)"), id="momentum-one"),
    pytest.param(
        several(with_("optimizer.kind", "adam"), with_("optimizer.momentum", 0.9)),
        ("optimizer.momentum", "natural-gradient", "sr", "minsr", "adam"),
        id="momentum-with-adam",
    ),
    pytest.param(with_("optimizer.warmup", 10**6), ("optimizer.warmup", "optimizer.n_iter"), id="warmup-past-the-run"),
    pytest.param(with_("optimizer.trust_radius", -0.1), ("optimizer.trust_radius", "0 (off)", "-0.1"), id="trust-negative"),
    pytest.param(with_("optimizer.trust_radius", "wide"), ("optimizer.trust_radius", "number"), id="trust-radius-not-a-number"),
    pytest.param(with_("sampler.power", 3.0), ("sampler.power", "[0.25, 2]"), id="power-above-born"),
    pytest.param(with_("sampler.power", 0.0), ("sampler.power", "[0.25, 2]"), id="power-zero"),
    pytest.param(
        several(with_("sampler.kind", "exact"), with_("sampler.power", 1.0)),
        ("sampler.power", "metropolis"),
        id="power-of-an-enumeration",
    ),
    pytest.param(
        several(with_("measurements", {"renyi2": {"regions": "blocks"}}), with_("sampler.power", 1.0)),
        ("sampler.power", "renyi2", "|ψ|²"),
        id="power-with-renyi",
    ),
    pytest.param(with_("sampler.move", "swap"), ("sampler.move", "local", "exchange"), id="unknown-move"),
    pytest.param(
        several(
            with_("model", {"name": "xxz", "J": 1.0, "Delta": 1.0}),
            with_("lattice.L", 5),
            with_("marshall_sign", True),
        ),
        ("marshall_sign", "bipartite", "L=5"),
        id="marshall-odd-periodic-L",
    ),
    pytest.param(with_("marshall_sign", True), ("marshall_sign", "xxz", "tfim"), id="marshall-with-tfim"),
    pytest.param(with_("sampler.move", "exchange"), ("sampler.move", "local"), id="exchange-with-tfim"),
    pytest.param(
        several(with_("sampler.move", "exchange"), with_("hilbert.sector", "full")),
        ("sampler.move", "zero_magnetization"),
        id="exchange-with-full-sector",
    ),
    pytest.param(
        several(with_("sampler.kind", "exact"), with_("lattice.L", EXACT_SAMPLER_MAX_SITES + 1)),
        ("sampler.kind", f"N <= {EXACT_SAMPLER_MAX_SITES}"),
        id="exact-sampler-too-many-sites",
    ),
    pytest.param(with_("model.Delta", 0.5), ("model.Delta", "tfim", "allowed"), id="coupling-not-of-model"),
    pytest.param(with_("sampler.kind", "direct"), ("sampler.kind", "autoregressive", "arnn", "rbm"), id="direct-with-rbm"),
    pytest.param(with_("sampler.kind", "gibbs"), ("sampler.kind", "metropolis", "exact", "direct"), id="unknown-sampler"),
    # an RBM is log cosh by definition: another activation would be ignored and still change the hash
    pytest.param(with_("ansatz.activation", "tanh"), ("ansatz.activation", "cosh only", "ffnn"), id="activation-an-rbm-ignores"),
]


@pytest.mark.parametrize("command", ["vmc", "exact", "validate"])
@pytest.mark.parametrize("mutate, expected", BAD_SPECS)
def test_bad_spec_is_refused(tmp_path, capsys, no_compute, command, mutate, expected):
    """A bad spec exits 2, names the field and the constraint on stderr, and creates no --out."""
    spec = base()
    mutate(spec)
    path = write_spec(tmp_path, spec)
    out = tmp_path / "out"
    assert run_cli(command, path, out) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("nqs-sweep: error:")
    for word in expected:
        assert word in captured.err, f"{word!r} not in {captured.err!r}"
    assert captured.out == ""
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


@pytest.mark.parametrize("command", ["vmc", "exact", "validate"])
@pytest.mark.parametrize(
    "text, type_name",
    [
        pytest.param("- model\n- lattice\n", "list", id="list"),
        pytest.param("just a string\n", "str", id="string"),
        pytest.param("42\n", "int", id="number"),
    ],
)
def test_spec_not_a_mapping(tmp_path, capsys, no_compute, command, text, type_name):
    """A YAML document that is not a mapping is refused, saying a mapping of the top-level keys is needed."""
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    assert run_cli(command, path, out) == 2
    err = capsys.readouterr().err
    assert "mapping" in err and "model" in err and type_name in err
    assert not out.exists()


@pytest.mark.parametrize("command", ["vmc", "exact", "validate"])
def test_spec_not_valid_yaml(tmp_path, capsys, no_compute, command):
    """A spec file that does not parse as YAML is refused naming --spec."""
    path = tmp_path / "spec.yaml"
    path.write_text("model: {name: tfim\n")
    out = tmp_path / "out"
    assert run_cli(command, path, out) == 2
    err = capsys.readouterr().err
    assert "--spec" in err and "YAML" in err
    assert not out.exists()


@pytest.mark.parametrize("command", ["vmc", "exact", "validate"])
def test_spec_file_missing(tmp_path, capsys, no_compute, command):
    """A --spec path that does not exist is refused naming --spec and the path."""
    path = tmp_path / "nope.yaml"
    out = tmp_path / "out"
    assert run_cli(command, path, out) == 2
    err = capsys.readouterr().err
    assert "--spec" in err and "no such file" in err and "nope.yaml" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "mutate, n_sites, sector",
    [
        pytest.param(with_("lattice", {"kind": "square", "L": 6, "pbc": True}), 36, "full", id="square-L6-full"),
        # open: the periodic Ising chain has a free-fermion energy at any L (next test)
        pytest.param(several(with_("lattice.L", 25), with_("lattice.pbc", False)), 25, "full", id="open-chain-L25-full"),
        pytest.param(
            several(with_("model", {"name": "xxz"}), with_("lattice.L", 28), with_("sampler.move", "exchange")),
            28,
            "zero_magnetization",
            id="chain-L28-zero-magnetization",
        ),
    ],
)
def test_exact_past_limit(tmp_path, capsys, no_compute, mutate, n_sites, sector):
    """`exact` on a point past the diagonalisation limit exits 2, names the limit and writes nothing."""
    spec = base()
    mutate(spec)
    path = write_spec(tmp_path, spec)
    out = tmp_path / "out"
    assert cli.main(["exact", "--spec", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "lattice.L" in err
    assert str(exact.MAX_EXACT_DIM) in err
    assert f"N={n_sites}" in err and sector in err
    assert not out.exists()


def test_exact_of_the_periodic_ising_chain_past_the_limit_takes_free_fermions(tmp_path):
    spec = base()
    spec["lattice"]["L"] = 40
    out = tmp_path / "out"
    assert cli.main(["exact", "--spec", str(write_spec(tmp_path, spec)), "--out", str(out)]) == 0
    row = pd.read_parquet(out / "exact.parquet").iloc[0]
    assert row["method"] == "free_fermions" and row["L"] == 40
    assert row["exact_energy"] == pytest.approx(exact.free_fermion_energy(40, 1.0, 1.0))


def test_exact_limit_boundary_is_allowed():
    """The largest allowed spaces (24 sites full, 26 at zero magnetisation) pass the feasibility check."""
    spec = base()
    spec["lattice"]["L"] = 24
    assert exact.check_feasible(parse_spec(spec)) == 2**24
    spec = base()
    spec["model"] = {"name": "xxz"}
    spec["lattice"]["L"] = 26
    spec["sampler"]["move"] = "exchange"
    assert exact.check_feasible(parse_spec(spec)) == math.comb(26, 13)


def test_boundaries_of_refused_cases_are_valid():
    """The neighbours of refused cases parse: exact sampler at 16 sites, Marshall sign on an open odd chain."""
    spec = base()
    spec["sampler"]["kind"] = "exact"
    spec["lattice"]["L"] = EXACT_SAMPLER_MAX_SITES
    assert parse_spec(spec).n_sites == EXACT_SAMPLER_MAX_SITES
    spec = base()
    spec["model"] = {"name": "xxz", "J": 1.0, "Delta": 1.0}
    spec["lattice"].update(L=5, pbc=False)
    spec["marshall_sign"] = True
    assert parse_spec(spec).marshall_sign


def test_vmc_exact_reference_missing(tmp_path, capsys, no_compute):
    """`vmc --exact` naming a file that does not exist exits 2 naming --exact, and writes nothing."""
    path = write_spec(tmp_path, base())
    out = tmp_path / "out"
    assert cli.main(["vmc", "--spec", str(path), "--out", str(out), "--exact", "/nonexistent.parquet"]) == 2
    err = capsys.readouterr().err
    assert "--exact" in err and "no such file" in err and "auto" in err
    assert not out.exists()


def test_vmc_checkpoint_every_below_one(tmp_path, capsys, no_compute):
    """`--checkpoint-every 0` exits 2 naming the option and its minimum, and writes nothing."""
    path = write_spec(tmp_path, base())
    out = tmp_path / "out"
    assert cli.main(["vmc", "--spec", str(path), "--out", str(out), "--checkpoint-every", "0"]) == 2
    err = capsys.readouterr().err
    assert "--checkpoint-every" in err and ">= 1" in err
    assert not out.exists()


def test_an_out_that_cannot_be_created_is_refused(tmp_path, capsys, no_compute):
    """--out below a file: exit 2 naming --out and the file, instead of a traceback after the run started."""
    path = write_spec(tmp_path, base())
    (tmp_path / "a_file").write_text("")
    assert cli.main(["vmc", "--spec", str(path), "--out", str(tmp_path / "a_file" / "run")]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "cannot be created" in err and "a_file is a file" in err


def test_an_unwritable_out_is_refused(tmp_path, capsys, no_compute, monkeypatch):
    """A directory this user cannot write (or a read-only file system): exit 2 naming --out, nothing written.
    os.access is stubbed to say so: as root (CI) permission bits would not stop the write."""
    import os

    path = write_spec(tmp_path, base())
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(os, "access", lambda p, mode: os.fspath(p) != os.fspath(out))
    assert cli.main(["vmc", "--spec", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "not writable" in err
    assert list(out.iterdir()) == []


def unwritable(monkeypatch, *paths):
    """os.access says these directories cannot be written (as root, CI, permission bits would not
    stop a write); returns the set, to be emptied when a fresh directory is made."""
    import os

    names = {os.fspath(p) for p in paths}
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: os.fspath(p) not in names and real(p, mode))
    return names


def test_a_study_point_moves_an_unwritable_run_directory_aside_and_starts_afresh(tmp_path, capsys, monkeypatch):
    """With --replace-stale (every study job), an unwritable run directory in a writable parent is
    renamed <name>.unwritable and the point runs in a fresh one, so a retry does not fail the same
    way; the spec file the workflow keeps there (the job's input) comes along, with its times."""
    out = tmp_path / "out"
    out.mkdir()
    path = write_spec(out, base())  # out/spec.yaml, as the workflow writes it
    (out / "old.txt").write_text("left by another user")
    (tmp_path / "out.unwritable").mkdir()  # an earlier one is kept: the next name is taken
    names = unwritable(monkeypatch, out)
    ran_in = []

    def run(spec, run_dir, *args, **kwargs):
        ran_in.append(sorted(p.name for p in run_dir.iterdir()))
        raise RuntimeError("stop here")

    monkeypatch.setattr(driver, "run_vmc", run)
    monkeypatch.setattr(driver, "record_failure", lambda *a, **k: names.clear())
    mtime = path.stat().st_mtime_ns
    args = ["vmc", "--spec", str(path), "--out", str(out), "--exact", "none", "--replace-stale", "--record-failures"]
    assert cli.main(args) == 0
    assert (tmp_path / "out.unwritable-2" / "old.txt").read_text() == "left by another user"
    assert ran_in == [["spec.yaml"]], ran_in  # nothing else of the old directory in the new one
    assert path.stat().st_mtime_ns == mtime
    assert "moved aside to out.unwritable-2" in capsys.readouterr().err


def test_an_unwritable_but_finished_run_is_left_alone(tmp_path, capsys, no_compute, monkeypatch):
    """A read-only directory holding this spec's finished run (results someone protected) is the
    answer, not a fault: nothing to do, nothing moved."""
    path = write_spec(tmp_path, base())
    out = tmp_path / "out"
    out.mkdir()
    unwritable(monkeypatch, out)
    monkeypatch.setattr(driver, "existing_status", lambda spec, out: "complete")
    assert cli.main(["vmc", "--spec", str(path), "--out", str(out), "--replace-stale"]) == 0
    assert "nothing to do" in capsys.readouterr().err and not (tmp_path / "out.unwritable").exists()


@pytest.mark.parametrize("why", ["parent unwritable", "rename refused", "in use"])
def test_an_unwritable_run_directory_that_cannot_be_moved_is_refused(tmp_path, capsys, no_compute, monkeypatch, why):
    """Exit 2 naming --out, nothing moved: its parent unwritable too; the rename refused (a sticky
    shared parent, a mount point); or a live process holding its lock."""
    import os
    import pathlib
    import socket

    path = write_spec(tmp_path, base())
    out = tmp_path / "out"
    out.mkdir()
    if why == "parent unwritable":
        unwritable(monkeypatch, out, tmp_path)
    else:
        unwritable(monkeypatch, out)
    if why == "rename refused":

        def refuse(self, target):
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(pathlib.Path, "rename", refuse)
    if why == "in use":
        (out / "run.lock").write_text(json.dumps({"host": socket.gethostname(), "pid": os.getppid(), "since": 0}))
    assert cli.main(["vmc", "--spec", str(path), "--out", str(out), "--replace-stale"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and out.exists() and not (tmp_path / "out.unwritable").exists(), err
    if why == "in use":
        assert "in use" in err


def test_a_failure_that_cannot_be_recorded_exits_1_with_both_messages(tmp_path, capsys, monkeypatch):
    """The run fails, and the directory can no longer take its failure record (e.g. a full disk)."""
    path = write_spec(tmp_path, base())

    def fails(*args, **kwargs):
        raise RuntimeError("the run broke")

    def cannot_write(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(driver, "run_vmc", fails)
    monkeypatch.setattr(driver, "record_failure", cannot_write)
    assert cli.main(["vmc", "--spec", str(path), "--out", str(tmp_path / "out"), "--exact", "none", "--record-failures"]) == 1
    err = capsys.readouterr().err
    assert "the run broke" in err and "could not be recorded" in err and "No space left" in err


def test_vmc_into_out_of_another_spec(tmp_path, capsys, no_compute):
    """`vmc` into an --out holding another spec's summary exits 2 and leaves the directory untouched."""
    path = write_spec(tmp_path, base())
    out = tmp_path / "out"
    out.mkdir()
    pd.DataFrame([{"spec_hash": "deadbeef", "status": "converged"}]).to_parquet(out / "summary.parquet", index=False)
    before = (out / "summary.parquet").read_bytes()
    assert cli.main(["vmc", "--spec", str(path), "--out", str(out), "--exact", "none"]) == 2
    err = capsys.readouterr().err
    assert "another spec" in err and "deadbeef" in err
    assert load_spec(path).spec_hash in err
    assert sorted(p.name for p in out.iterdir()) == ["summary.parquet"]
    assert (out / "summary.parquet").read_bytes() == before


def test_validate_good_spec(tmp_path, capsys, no_compute):
    """`validate` on the good base spec exits 0 and prints the resolved spec with its hash."""
    path = write_spec(tmp_path, base())
    assert cli.main(["validate", "--spec", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    printed = json.loads(captured.out)
    spec = load_spec(path)
    assert printed["spec_hash"] == spec.spec_hash
    assert len(spec.spec_hash) == 16 and int(spec.spec_hash, 16) >= 0
    assert printed["lattice"] == {"kind": "chain", "L": 6, "pbc": True}
    assert printed["model"] == {"name": "tfim", "J": 1.0, "h": 1.0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]
