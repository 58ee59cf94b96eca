"""A researcher's own flax network through the workflow: a grid over one of its kwargs next to
a built-in RBM, checked against brute force, and an edit of its file reruns exactly its points."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, planned_jobs, snakemake

sys.path.insert(0, str(REPO / "tests"))
from reference import dense_hamiltonian  # noqa: E402

STUDY = {
    "study": "plugin_tiny",
    "defaults": {
        "model": {"name": "tfim", "J": 1.0, "h": 0.8},
        "lattice": {"kind": "chain", "L": 6, "pbc": True},
        "ansatz": {"module": "nets/tiny_flax.py:TinyRBM"},
        "sampler": {"kind": "exact"},
        "optimizer": {"kind": "sr", "learning_rate": 0.05, "diag_shift": 0.01, "n_iter": 30},
    },
    "grid": {"ansatz.kwargs.features": [1, 3]},
    "points": [{"ansatz": {"name": "rbm", "alpha": 1, "dtype": "float64"}}],
}


@pytest.mark.slow
def test_plugin_grid_runs_matches_brute_force_and_reruns_on_edit(workdir, monkeypatch):
    (workdir / "nets").mkdir()
    shutil.copy(REPO / "tests" / "plugins" / "tiny_flax.py", workdir / "nets" / "tiny_flax.py")
    (workdir / "plugin.yaml").write_text(yaml.safe_dump(STUDY))
    plan = planned_jobs(snakemake(workdir, "--configfile", "plugin.yaml", "-n"))
    assert plan["vmc"] == 3, plan
    snakemake(workdir, "--cores", "2", "--configfile", "plugin.yaml")

    res = workdir / "results" / "plugin_tiny"
    energies = pd.read_parquet(res / "tables" / "energies.parquet")
    assert sorted(energies["ansatz"]) == ["TinyRBM", "TinyRBM", "rbm"]
    mine = energies[energies["ansatz"] == "TinyRBM"]
    assert sorted(mine["kwargs"]) == ['{"features": 1}', '{"features": 3}']
    assert (mine["module"] == "nets/tiny_flax.py:TinyRBM").all()
    assert (energies["rel_error"] < 0.05).all(), energies[["ansatz", "rel_error"]]

    # Each plug-in point's final energy (the exact sampler: an exact expectation) is that of
    # its final parameters under the dense Hamiltonian, with log ψ written out in numpy.
    import nqs_sweep
    from nqs_sweep.models import make_ansatz
    from nqs_sweep.physics.hilbert import all_states

    monkeypatch.chdir(workdir)  # the spec names the file relative to where the workflow ran
    for run_dir in sorted((res / "vmc").glob("**/summary.parquet")):
        result = nqs_sweep.load(run_dir.parent)
        if not result.spec.ansatz.module:
            continue
        spec = result.spec

        params = make_ansatz(spec).to_tree(result.theta)["params"]
        W, b, a = (np.asarray(x) for x in (params["Dense_0"]["kernel"], params["Dense_0"]["bias"], params["a"]))
        s = all_states(6, "full")
        psi = np.exp(np.sum(np.log(np.cosh(s @ W + b)), axis=-1) + s @ a)
        H = dense_hamiltonian(spec)
        e_dense = np.vdot(psi, H @ psi).real / np.vdot(psi, psi).real
        assert result.energy == pytest.approx(e_dense, abs=1e-10)

    # An edit of the network's file reruns its two points and leaves the RBM alone.
    net = workdir / "nets" / "tiny_flax.py"
    net.write_text(net.read_text() + "\n# an edit\n")
    plan = planned_jobs(snakemake(workdir, "--configfile", "plugin.yaml", "-n"))
    assert plan["vmc"] == 2 and plan["point_spec"] == 2, plan
    untouched = [p for p in (res / "vmc").glob("**/summary.parquet") if "rbm" in str(p) and "TinyRBM" not in str(p)]
    assert len(untouched) == 1
    assert Path(untouched[0]).exists()
