"""Faults in the run lifecycle: signals, a second process on one directory, damaged resume
files, and sizes the spec refuses. Each test asserts the exit code, the message and what is on
disk afterwards."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pandas as pd
import pytest
import yaml

import nqs_sweep.cli as cli
from nqs_sweep.jobs import checkpoint, lifecycle
from nqs_sweep.optim.step import init_state
from nqs_sweep.problem import build_problem
from nqs_sweep.spec import SpecError, parse_spec
from reference import SMALL, write_spec


def cli_cmd(spec_path, out, every=50):
    run = [sys.executable, "-m", "nqs_sweep.cli", "vmc", "--spec", str(spec_path), "--out", str(out)]
    return run + ["--exact", "none", "--checkpoint-every", str(every), "--quiet", "--record-failures"]


def final_theta(run_dir, raw):
    spec = parse_spec(raw)
    state, _ = checkpoint.load(run_dir / "checkpoint.npz", init_state(build_problem(spec), jax.random.key(0)))
    return np.asarray(state.theta), int(state.iteration)


def wait_for(path, proc, seconds=120):
    deadline = time.time() + seconds
    while not path.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    return path.exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_checkpoints_within_one_step_and_the_resumed_run_is_bit_identical(tmp_path, sig):
    """SIGTERM (a batch system's time limit) or SIGINT: the current step finishes, a checkpoint is
    written there (not at the last multiple of --checkpoint-every), the summary says
    'interrupted', the exit code is 75; rerun, the point ends where an uninterrupted one does."""
    n_iter = 3000  # about 15 s: the signal arrives mid-run
    raw = {**SMALL, "optimizer": {**SMALL["optimizer"], "n_iter": n_iter}, "sampler": {**SMALL["sampler"], "n_samples": 512}}
    spec_path = write_spec(tmp_path / "spec.yaml", raw)
    out = tmp_path / "stopped"
    # No periodic checkpoint within the run: the only one there can be is the signal's. With one
    # every 1000 steps, a signal that came during the checkpoint at 1000 (3 s in, once start-up got
    # faster) stopped the run there, correctly, and the test could not tell the two apart.
    every = 10 * n_iter
    proc = subprocess.Popen(cli_cmd(spec_path, out, every=every), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert wait_for(out / "run.log", proc)
    time.sleep(3)  # into the steps (a signal during compilation is handled too: after the first step)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == lifecycle.EXIT_INTERRUPTED, err
    assert "interrupted" in err
    summary = pd.read_parquet(out / "summary.parquet").iloc[0]
    assert summary["status"] == "interrupted" and signal.Signals(sig).name in summary["error_message"]
    _, stopped_at = final_theta(out, raw)
    assert 0 < stopped_at < n_iter  # a checkpoint at the signal: no other was due
    assert not (out / "run.lock").exists()
    assert len(pd.read_parquet(out / "history.partial.parquet")) == stopped_at

    subprocess.run(cli_cmd(spec_path, out, every=every), check=True, capture_output=True)
    subprocess.run(cli_cmd(spec_path, tmp_path / "straight", every=every), check=True, capture_output=True)
    assert pd.read_parquet(out / "summary.parquet").iloc[0]["status"] != "interrupted"
    theta_resumed, it_resumed = final_theta(out, raw)
    theta_straight, it_straight = final_theta(tmp_path / "straight", raw)
    assert it_resumed == it_straight == n_iter
    np.testing.assert_array_equal(theta_resumed, theta_straight)
    hist, straight = (pd.read_parquet(d / "history.parquet") for d in (out, tmp_path / "straight"))
    np.testing.assert_array_equal(hist["energy"].to_numpy(), straight["energy"].to_numpy())


@pytest.mark.slow
def test_a_second_run_on_one_directory_is_refused_and_nothing_is_mixed(tmp_path):
    # Stopped by a signal below, not run to its end: a run that ends before the three others have
    # started (300 steps did, once its start-up had become faster) tests nothing.
    long = {**SMALL, "optimizer": {**SMALL["optimizer"], "n_iter": 10**6}}
    other = {**SMALL, "seed": 4}
    out = tmp_path / "run"
    first = subprocess.Popen(
        cli_cmd(write_spec(tmp_path / "a.yaml", long), out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert wait_for(out / "run.lock", first)
    for raw, extra in ((long, []), (other, []), (other, ["--replace-stale"])):  # none touches the live run
        second = subprocess.run([*cli_cmd(write_spec(tmp_path / "b.yaml", raw), out), *extra], capture_output=True, text=True)
        assert second.returncode == 2, second.stderr
        assert "in use by another" in second.stderr and "run.lock" in second.stderr
    assert first.poll() is None, "the first run ended before the others were refused"
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=300) == 75  # interrupted after its checkpoint, by the signal only
    summary = pd.read_parquet(out / "summary.parquet").iloc[0]
    assert summary["spec_hash"] == parse_spec(long).spec_hash and summary["status"] == "interrupted"
    assert not (out / "run.lock").exists()


def test_a_stale_lock_is_taken_over_and_a_foreign_one_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    (out / "run.lock").write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid, "since": 0}))
    with lifecycle.locked(out, "spec"):
        assert json.loads((out / "run.lock").read_text())["pid"] == os.getpid()
    assert not (out / "run.lock").exists()
    (out / "run.lock").write_text(json.dumps({"host": "another-node", "pid": 1, "since": 0}))
    with pytest.raises(lifecycle.RunConflict, match="another-node"):
        with lifecycle.locked(out, "spec"):
            pass
    assert (out / "run.lock").exists()  # someone else's lock is left alone


@pytest.mark.parametrize(
    "damage",
    ["truncated", "random", "empty", "directory", "meta"],
)
def test_a_damaged_checkpoint_is_moved_aside_and_the_point_runs_afresh(tmp_path, damage):
    spec_path = write_spec(tmp_path / "spec.yaml", SMALL)
    out = tmp_path / "run"
    args = ["vmc", "--spec", str(spec_path), "--out", str(out), "--exact", "none", "--quiet", "--checkpoint-every", "5"]
    assert cli.main(args) == 0
    good = pd.read_parquet(out / "history.parquet")["energy"].to_numpy()
    (out / "summary.parquet").unlink()  # as if killed before the end
    ckpt = out / "checkpoint.npz"
    if damage == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:200])
    elif damage == "random":
        ckpt.write_bytes(np.random.default_rng(0).bytes(4096))
    elif damage == "empty":
        ckpt.write_bytes(b"")
    elif damage == "directory":
        ckpt.unlink()
        ckpt.mkdir()
    else:  # a valid npz whose metadata is not JSON
        np.savez(ckpt, __meta__=np.array("not json {"))
    assert cli.main(args) == 0
    assert (out / "checkpoint.npz.damaged").exists()
    assert (out / "history.partial.parquet.damaged").exists()  # resume files go together
    assert pd.read_parquet(out / "summary.parquet").iloc[0]["status"] != "failed"
    np.testing.assert_array_equal(pd.read_parquet(out / "history.parquet")["energy"].to_numpy(), good)


def test_a_damaged_summary_is_moved_aside(tmp_path):
    spec_path = write_spec(tmp_path / "spec.yaml", SMALL)
    out = tmp_path / "run"
    args = ["vmc", "--spec", str(spec_path), "--out", str(out), "--exact", "none", "--quiet"]
    assert cli.main(args) == 0
    (out / "summary.parquet").write_bytes(b"PAR1 not really")
    assert cli.main(args) == 0
    assert (out / "summary.parquet.damaged").exists()
    assert pd.read_parquet(out / "summary.parquet").iloc[0]["status"] in ("converged", "not_converged")


def test_a_seed_past_64_bits_is_refused_naming_the_field():
    with pytest.raises(SpecError) as err:
        parse_spec({**SMALL, "seed": 2**64})
    assert err.value.field == "seed"
    parse_spec({**SMALL, "seed": 2**63 - 1})


BOMB = """a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
model: *g
"""


@pytest.mark.parametrize(
    "content,words",
    [
        (BOMB.encode(), "alias bomb"),
        (("a: " + "[" * 5000 + "]" * 5000).encode(), "nests deeper"),
        (b"model: {name: tfim}\nmodel: {name: xxz}\n", "duplicate key 'model'"),
        ("model: {name: tfim}\n".encode("utf-16"), "not UTF-8"),
        (b"model: {name: \xff\xfe}\n", "not UTF-8"),
        (b"x" * 1_000_001, "bytes"),
        (b"model: [unclosed\n", "not valid YAML"),
    ],
)
def test_hostile_spec_files_are_refused_quickly_with_exit_2(tmp_path, capsys, content, words):
    path = tmp_path / "spec.yaml"
    path.write_bytes(content)
    start = time.perf_counter()
    assert cli.main(["validate", "--spec", str(path)]) == 2
    err = capsys.readouterr().err
    assert words in err and "--spec" in err
    assert len(err) < 2000 and time.perf_counter() - start < 5


def test_a_study_reads_numbers_as_a_point_spec_does_and_refuses_bad_names():
    from nqs_sweep.study import StudyError, expand_study

    base = {"defaults": {"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 4}, "ansatz": {"name": "rbm"}}}
    study = expand_study({"study": "s", **base, "grid": {"optimizer.learning_rate": ["1e-3", "2e-3"]}})
    assert sorted(p.spec.optimizer.learning_rate.init for p in study.points) == [0.001, 0.002]
    for name in ("name\n", "x" * 65):
        with pytest.raises(StudyError) as err:
            expand_study({"study": name, **base})
        assert err.value.field == "study"
    with pytest.raises(StudyError) as err:
        expand_study({"study": "s", **base, "description": yaml.safe_load(BOMB)})
    assert "alias bomb" in str(err.value) and len(str(err.value)) < 2000


@pytest.mark.parametrize(
    "change,field",
    [
        ({"ansatz": {"name": "rbm", "alpha": 1e9}}, "ansatz.alpha"),
        ({"ansatz": {"name": "rbm", "alpha": 1e-12}}, "ansatz.alpha"),
        ({"lattice": {"kind": "chain", "L": 10**6}}, "lattice.L"),
        ({"lattice": {"kind": "chain", "L": 20000}}, "ansatz.alpha"),  # α N² parameters
        # 1.6e7 parameters by 8192 samples: a 1 TB Jacobian
        ({"lattice": {"kind": "chain", "L": 4000}, "sampler": {"n_samples": 8192, "n_chains": 8}}, "sampler.n_samples"),
        ({"sampler": {"n_samples": 10**12, "n_chains": 8}}, "sampler.n_samples"),
        ({"sampler": {"sweep_size": 10**12}}, "sampler.sweep_size"),
    ],
)
def test_sizes_that_cannot_run_are_refused_before_allocation(change, field, monkeypatch):
    import nqs_sweep.spec as spec_module

    monkeypatch.setattr(spec_module, "_physical_memory", lambda: 24 * 2**30)  # this machine's, on any machine
    start = time.perf_counter()
    with pytest.raises(SpecError) as err:
        parse_spec({**SMALL, **change})
    assert err.value.field == field, str(err.value)
    assert time.perf_counter() - start < 2


def test_a_time_step_too_small_for_any_run_is_refused():
    from nqs_sweep.quench import parse_quench

    raw = {**SMALL, "ansatz": {"name": "rbm", "dtype": "complex128"}}
    raw["dynamics"] = {"kind": "real", "t_final": 1.0, "dt": 1e-12, "integrator": "rk4", "save_every": 0.5}
    raw["initial"] = {"kind": "product", "direction": "x"}
    with pytest.raises(SpecError) as err:
        parse_quench(raw)
    assert err.value.field == "dynamics.dt"


def test_a_checkpoint_declaring_a_huge_array_is_refused_without_allocating_it(tmp_path):
    """Its .npy header says 10^6 x 10^6 float64 (8 TB) over a few bytes of data: refused from the
    header, before any read of the data could try to allocate it."""
    import io
    import zipfile

    def member(header: dict, payload: bytes) -> bytes:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)
        return buf.getvalue() + payload

    path = tmp_path / "checkpoint.npz"
    meta = io.BytesIO()
    np.save(meta, np.array(json.dumps({"spec_hash": "x", "runtime_s": 0.0})))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__meta__.npy", meta.getvalue())
        z.writestr("leaf_0000.npy", member({"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}, b"\0" * 64))
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"leaf_0000 is \(1000000, 1000000\) float64, expected \(3,\) float64"):
        checkpoint.load(path, {"theta": np.zeros(3)})
    assert time.perf_counter() - start < 2
