"""The Python API (nqs_sweep.run, load, exact and the registries), as a script would use it."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nqs_sweep
from nqs_sweep.physics.exact import free_fermion_energy

REPO = Path(__file__).resolve().parents[1]


def point(n_iter=5, **over) -> dict:
    raw = {
        "model": {"name": "tfim", "J": 1.0, "h": 0.5},
        "lattice": {"kind": "chain", "L": 4},
        "ansatz": {"name": "rbm", "alpha": 1, "dtype": "float64"},
        "sampler": {"kind": "exact"},
        "optimizer": {"kind": "sr", "learning_rate": 0.05, "n_iter": n_iter},
    }
    raw.update(over)
    return raw


def test_run_in_a_temporary_directory_returns_the_tables(tmp_path):
    r = nqs_sweep.run(point())
    assert r.run_dir is None and r.status in ("converged", "not_converged")
    assert len(r.history) == 5 and list(r.history["iteration"]) == list(range(5))
    # graded against the free-fermion energy, computed because exact="auto"
    row = r.summary.iloc[0]
    assert row["exact_energy"] == pytest.approx(free_fermion_energy(4, 1.0, 0.5), abs=1e-12)
    assert row["rel_error"] == pytest.approx(abs(row["energy"] - row["exact_energy"]) / abs(row["exact_energy"]))
    assert r.theta.shape == (4 + 4 + 16,) and np.isfinite(r.theta).all()


def test_run_into_a_directory_is_resumable_and_loadable(tmp_path):
    first = nqs_sweep.run(point(), tmp_path / "run", exact=None)
    assert first.run_dir == tmp_path / "run" and np.isnan(first.summary["exact_energy"].iloc[0])
    again = nqs_sweep.run(point(), tmp_path / "run")  # complete: read back, not recomputed
    assert again.summary["runtime_s"].iloc[0] == first.summary["runtime_s"].iloc[0]
    loaded = nqs_sweep.load(tmp_path / "run")
    assert loaded.spec == first.spec and loaded.summary.equals(first.summary)
    np.testing.assert_array_equal(loaded.theta, first.theta)


def test_exact_and_bad_input_name_the_field(tmp_path):
    assert nqs_sweep.exact(point()) == pytest.approx(free_fermion_energy(4, 1.0, 0.5), abs=1e-12)
    with pytest.raises(nqs_sweep.SpecError, match="^model.name: must be one of tfim, xxz, heisenberg, j1j2"):
        nqs_sweep.run(point(model={"name": "ising"}))
    with pytest.raises(nqs_sweep.SpecError, match="^exact: "):
        nqs_sweep.run(point(), exact="yes")
    with pytest.raises(nqs_sweep.SpecError, match="^run_dir: "):
        nqs_sweep.load(tmp_path)


def test_a_registered_model_and_network_are_runnable(tmp_path):
    """Registries are open: a model and a network registered by the caller are accepted by the
    spec parser and run like the built-in ones."""
    import jax.numpy as jnp
    import numpy as onp

    from nqs_sweep.models import NETWORKS, rbm
    from nqs_sweep.models.registry import Built
    from nqs_sweep.physics.hamiltonians import MODELS, Terms

    def field_only(lat, c):  # -g Σ σˣ: ground energy -g N
        t = Terms()
        t.flips.append((onp.arange(lat.n_sites, dtype=onp.int32), onp.full(lat.n_sites, -c["g"])))
        return t

    def tiny(a, lattice, sector):
        n = lattice.n_sites
        return Built(lambda key: rbm.init(key, n, 2, jnp.float64, 0.1), rbm.log_psi, {})

    try:
        nqs_sweep.register_model(nqs_sweep.Model("field", {"g": 1.0}, field_only, "-g Σ σˣ", conserves_magnetization=False))
        nqs_sweep.register_network(nqs_sweep.Network("tiny_rbm", tiny, "an RBM of two hidden units"))
        r = nqs_sweep.run(
            point(n_iter=60, model={"name": "field", "g": 0.7}, ansatz={"name": "tiny_rbm", "dtype": "float64"}), exact=-2.8
        )
        assert r.summary["rel_error"].iloc[0] < 1e-3 and r.summary["ansatz"].iloc[0] == "tiny_rbm"
        assert r.summary["g"].iloc[0] == 0.7
    finally:
        MODELS.pop("field", None)
        NETWORKS.pop("tiny_rbm", None)


def readme_python_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Python API") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.mark.slow
def test_the_readme_python_example_runs_as_a_plain_script(tmp_path):
    blocks = readme_python_blocks()
    assert blocks, "the README's Python API section has no python block"
    script = tmp_path / "example.py"
    script.write_text("\n".join(blocks))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "energy" in proc.stdout and "status" in proc.stdout
