"""A researcher's own network (nqs_sweep.models.plugin): a flax module or an (init, apply) pair
in a file outside the package, checked against brute force on a full enumeration."""

import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

from nqs_sweep.mc.estimators import local_energies
from nqs_sweep.models import make_ansatz
from nqs_sweep.optim.step import init_state, make_evaluate
from nqs_sweep.physics.hamiltonians import build_hamiltonian
from nqs_sweep.physics.hilbert import all_states
from nqs_sweep.problem import build_problem
from nqs_sweep.spec import SpecError, parse_spec
from reference import dense_hamiltonian

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture
def net_file(tmp_path, monkeypatch):
    """The plug-in copied into a scratch working directory, named by a relative path."""
    shutil.copy(PLUGINS / "tiny_flax.py", tmp_path / "my_nets.py")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "my_nets.py"


def plugin_spec(ansatz: dict, model=None, **extra):
    return parse_spec(
        {
            "model": model or {"name": "heisenberg", "J": 1.0},
            "lattice": {"kind": "chain", "L": 6, "pbc": True},
            "ansatz": ansatz,
            "sampler": {"kind": "exact"},
            "seed": 3,
            **extra,
        }
    )


def rbm_reference(params: dict, s: np.ndarray) -> np.ndarray:
    """log ψ of TinyRBM in numpy, from its flax parameter tree."""
    p = params["params"]
    W, b, a = (np.asarray(x) for x in (p["Dense_0"]["kernel"], p["Dense_0"]["bias"], p["a"]))
    return np.sum(np.log(np.cosh(s @ W + b)), axis=-1) + s @ a


@pytest.mark.parametrize("model", [{"name": "heisenberg", "J": 1.0}, {"name": "tfim", "J": 1.0, "h": 0.7}])
def test_flax_module_matches_brute_force_on_every_configuration(net_file, model):
    spec = plugin_spec({"module": "my_nets.py:TinyRBM", "kwargs": {"features": 3}}, model=model)
    assert spec.ansatz.name == "TinyRBM" and spec.ansatz.dtype == "complex128"
    ansatz = make_ansatz(spec)
    assert ansatz.is_complex and not ansatz.real_output and ansatz.n_params == 6 * 3 + 3 + 6

    problem = build_problem(spec, ansatz)
    hyper = problem.hyper
    state = init_state(problem, jax.random.key(spec.seed))
    states = all_states(spec.n_sites, spec.sector)
    log_psi = np.asarray(ansatz.log_psi(state.theta, states))
    np.testing.assert_allclose(log_psi, rbm_reference(ansatz.to_tree(state.theta), states), rtol=0, atol=1e-10)

    psi = np.exp(log_psi)
    H = dense_hamiltonian(spec)
    e_loc = np.asarray(local_energies(build_hamiltonian(spec), ansatz, state.theta, states))
    np.testing.assert_allclose(e_loc, (H @ psi) / psi, rtol=1e-10, atol=1e-10)

    stats = make_evaluate(problem)(state.theta, state.chains, jax.random.key(1), hyper).stats
    exact = np.vdot(psi, H @ psi).real / np.vdot(psi, psi).real
    assert float(np.real(stats.mean)) == pytest.approx(exact, abs=1e-10)


def test_function_pair_plugin_matches_brute_force(net_file):
    spec = plugin_spec({"module": "my_nets.py:pair", "kwargs": {"width": 4}})
    assert spec.ansatz.name == "pair" and spec.ansatz.dtype == "float64"
    ansatz = make_ansatz(spec)
    assert not ansatz.is_complex and ansatz.real_output and ansatz.n_params == 6 * 4 + 4
    theta = ansatz.init(jax.random.key(0))
    p = ansatz.to_tree(theta)
    states = all_states(6, "full")
    ref = np.sum(np.log(np.cosh(states @ np.asarray(p["W"]) + np.asarray(p["b"]))), axis=-1)
    np.testing.assert_allclose(np.real(np.asarray(ansatz.log_psi(theta, states))), ref, rtol=0, atol=1e-12)


def test_the_hash_follows_the_source_file_and_the_kwargs(net_file):
    raw = {"module": "my_nets.py:TinyRBM", "kwargs": {"features": 2}}
    before = plugin_spec(raw)
    assert plugin_spec(raw).spec_hash == before.spec_hash
    assert plugin_spec({**raw, "kwargs": {"features": 3}}).spec_hash != before.spec_hash
    # the resolved spec reads back to the same spec (what run_spec.yaml and the workflow keep)
    assert parse_spec(before.to_raw()) == before

    net_file.write_text(net_file.read_text() + "\n# an edit\n")
    after = plugin_spec(raw)
    assert after.spec_hash != before.spec_hash and after.ansatz.source_sha256 != before.ansatz.source_sha256
    with pytest.raises(SpecError, match="ansatz.source_sha256: .*changed since this spec was written"):
        parse_spec(before.to_raw())


def test_builtin_hashes_do_not_see_the_plugin_fields(spec_factory):
    spec = spec_factory({"name": "tfim"}, {"kind": "chain", "L": 4})
    d = spec.to_dict()
    assert not {"module", "kwargs", "source_sha256"} & set(d["ansatz"])


@pytest.mark.parametrize(
    ("ansatz", "field", "message"),
    [
        ({"module": "nowhere.py:Net"}, "ansatz.module", "no such file: nowhere.py"),
        ({"module": "my_nets.py"}, "ansatz.module", "must be 'path/to/file.py:Name'"),
        ({"module": "my_nets.py:Missing"}, "ansatz.module", "has no 'Missing'; it defines .*TinyRBM"),
        ({"module": "my_nets.py:NotANetwork"}, "ansatz.module", "expected a flax.linen.Module subclass"),
        ({"module": "my_nets.py:WrongShape"}, "ansatz.module", r"returns \(3, 2\); log ψ needs \(3,\)"),
        ({"module": "my_nets.py:TinyRBM", "kwargs": {"depth": 2}}, "ansatz.module", "unexpected keyword argument 'depth'"),
        ({"module": "my_nets.py:TinyRBM", "kwargs": {"features": {"a": 1}}}, "ansatz.kwargs.features", "must be a number"),
        ({"module": "my_nets.py:TinyRBM", "alpha": 2}, "ansatz.alpha", "unknown key"),
        ({"module": "no_such_package_xyz:Net"}, "ansatz.module", "cannot import no_such_package_xyz"),
    ],
)
def test_bad_plugins_are_refused_naming_the_field(net_file, ansatz, field, message):
    with pytest.raises(SpecError, match=f"^{field}: .*{message}"):
        plugin_spec(ansatz)


def test_an_importable_module_is_named_by_its_dotted_path(net_file, monkeypatch):
    monkeypatch.syspath_prepend(str(net_file.parent))
    spec = plugin_spec({"module": "my_nets:TinyRBM"})
    assert spec.ansatz.source_sha256 == plugin_spec({"module": "my_nets.py:TinyRBM"}).ansatz.source_sha256


def test_netket_rbm_runs_as_a_plugin_and_matches_the_builtin_rbm():
    """In the bench environment (NetKet installed): netket.models.RBM as a plug-in has the
    built-in RBM's log ψ for the same parameters, so both reach the same energy."""
    nk = pytest.importorskip("netket")
    spec = plugin_spec({"module": "netket.models:RBM", "kwargs": {"alpha": 1, "param_dtype": "float64"}})
    builtin = plugin_spec({"name": "rbm", "alpha": 1, "dtype": "float64"})
    theirs, ours = make_ansatz(spec), make_ansatz(builtin)
    assert theirs.n_params == ours.n_params == 6 + 6 + 36
    p = theirs.to_tree(theirs.init(jax.random.key(0)))["params"]
    # NetKet's RBM: log ψ = Σ log cosh(s W + b) + s·a, with W (N, M); ours keeps W as (M, N)
    mine = {"a": p["visible_bias"], "b": p["Dense"]["bias"], "W": p["Dense"]["kernel"].T}
    states = all_states(6, "full")
    theta_ours = ours.to_real(jax.flatten_util.ravel_pytree(mine)[0])
    theta_theirs = theirs.init(jax.random.key(0))
    np.testing.assert_allclose(
        np.asarray(theirs.log_psi(theta_theirs, states)), np.asarray(ours.log_psi(theta_ours, states)), atol=1e-12
    )
    assert nk.__version__


def test_netket_rbm_as_a_plugin_reaches_the_energy_of_the_builtin_rbm():
    """Both optimised by the same SR on the exact enumeration from their own initial states:
    the same network class reaches the same energy (the exact one of the L = 6 Ising chain)."""
    pytest.importorskip("netket")
    import nqs_sweep

    def run(ansatz):
        raw = {
            "model": {"name": "tfim", "J": 1.0, "h": 1.0},
            "lattice": {"kind": "chain", "L": 6},
            "ansatz": ansatz,
            "sampler": {"kind": "exact"},
            "optimizer": {"kind": "sr", "learning_rate": 0.05, "n_iter": 200},
        }
        return nqs_sweep.run(raw).summary.iloc[0]

    theirs = run({"module": "netket.models:RBM", "kwargs": {"alpha": 1, "param_dtype": "float64"}})
    ours = run({"name": "rbm", "alpha": 1, "dtype": "float64", "init_scale": 0.01})
    assert theirs["rel_error"] < 1e-3 and ours["rel_error"] < 1e-3, (theirs["rel_error"], ours["rel_error"])
    assert theirs["energy"] == pytest.approx(ours["energy"], rel=1e-3)


MY_RESNET = """
import flax.linen as nn
import jax.numpy as jnp


class MyResNet(nn.Module):
    depth: int = 2
    features: int = 4

    @nn.compact
    def __call__(self, x):
        h = nn.Dense(self.features)(x)
        for _ in range(self.depth):
            h = h + nn.Dense(self.features)(nn.tanh(h))
        return jnp.sum(h, axis=-1)
"""


def test_the_readme_plugin_example_is_a_valid_spec(tmp_path, monkeypatch):
    """The README's "Your own network" block, with a module of that name where it says, parses and
    builds (the module path is relative to where the study runs)."""
    import re

    import yaml

    text = (Path(__file__).parents[1] / "README.md").read_text()
    section = text.split("## Your own network", 1)[1].split("\n## ", 1)[0]
    block = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", section, re.S)[0])
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "my_nets.py").write_text(MY_RESNET)
    monkeypatch.chdir(tmp_path)
    spec = parse_spec({"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 6}, **block})
    ansatz = make_ansatz(spec)
    assert spec.ansatz.kwargs_dict == {"depth": 4, "features": 16}
    assert ansatz.log_psi(ansatz.init(jax.random.key(0)), jax.numpy.ones((3, 6))).shape == (3,)
