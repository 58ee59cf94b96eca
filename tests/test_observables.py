"""Every registered observable: its local estimator, averaged with the exact |ψ|² weights of a
full enumeration, equals its exact estimator on the state vector."""

import jax
import numpy as np
import pytest

from nqs_sweep.mc.estimators import local_energies
from nqs_sweep.mc.observables import OBSERVABLES, Observable, register_observable
from nqs_sweep.models import make_ansatz
from nqs_sweep.physics.exact_dynamics import _operator, exact_context
from nqs_sweep.physics.hamiltonians import build_hamiltonian
from nqs_sweep.physics.hilbert import all_states
from nqs_sweep.physics.lattice import Lattice


@pytest.mark.parametrize(
    ("model", "sector", "marshall"),
    [
        ({"name": "tfim", "h": 0.7}, "full", False),
        ({"name": "heisenberg"}, "full", True),
        ({"name": "xxz", "Delta": 0.5}, "zero_magnetization", False),
    ],
)
def test_local_and_exact_estimators_agree_on_every_observable(spec_factory, model, sector, marshall):
    extra = {"hilbert": {"sector": sector}, "sampler": {"kind": "exact", "move": "exchange" if sector != "full" else "local"}}
    spec = spec_factory(
        model, {"kind": "chain", "L": 6}, {"name": "rbm", "alpha": 1, "init_scale": 0.3}, marshall_sign=marshall, **extra
    )
    ansatz = make_ansatz(spec)
    theta = ansatz.init(jax.random.key(4))
    s = all_states(6, sector).astype(np.float64)  # configurations are real arrays, as samplers give them
    log_psi = np.asarray(ansatz.log_psi(theta, s))
    v = np.exp(log_psi - log_psi.real.max())
    p = np.abs(v) ** 2 / np.sum(np.abs(v) ** 2)
    lat = Lattice("chain", 6, True)
    e_loc = local_energies(build_hamiltonian(spec), ansatz, theta, s)
    ctx = exact_context(spec, _operator(spec))
    checked = []
    for name, obs in OBSERVABLES.items():
        if obs.full_space_only and sector != "full":
            continue
        local = np.asarray(obs.local(lat, marshall, ansatz, theta, s, e_loc))
        exact = float(p @ obs.diagonal(ctx)) if obs.diagonal is not None else obs.exact(ctx, v)
        assert float(np.real(p @ local)) == pytest.approx(exact, abs=1e-10), name
        checked.append(name)
    assert {"sz", "zz_nn", "energy"} <= set(checked)


def test_an_observable_gives_exactly_one_exact_estimator():
    with pytest.raises(ValueError, match="give exactly one of exact and diagonal"):
        register_observable(Observable("bad", lambda *a: 0, "no exact estimator"))
    with pytest.raises(ValueError, match="observable 'sx' is already registered"):
        register_observable(Observable("sx", lambda *a: 0, "another sx", diagonal=lambda ctx: 0))


def test_a_ground_state_run_measures_the_observables_it_asks_for():
    """With the exact sampler the final measurement is an exact expectation: each summary
    column equals the exact estimator on the final θ's state vector."""
    import nqs_sweep

    raw = {
        "model": {"name": "tfim", "J": 1.0, "h": 0.9},
        "lattice": {"kind": "chain", "L": 6},
        "ansatz": {"name": "rbm", "alpha": 1, "dtype": "float64"},
        "sampler": {"kind": "exact"},
        "optimizer": {"n_iter": 20, "learning_rate": 0.05},
        "observables": ["sx", "sz", "zz_nn"],
    }
    r = nqs_sweep.run(raw, exact=None)
    spec = r.spec
    assert (
        spec.observables == ("sx", "sz", "zz_nn")
        and "observables" not in nqs_sweep.parse_spec({k: v for k, v in raw.items() if k != "observables"}).to_dict()
    )
    ansatz = make_ansatz(spec)
    s = all_states(6, "full").astype(np.float64)
    log_psi = np.asarray(ansatz.log_psi(np.asarray(r.theta), s))
    v = np.exp(log_psi - log_psi.real.max())
    p = np.abs(v) ** 2 / np.sum(np.abs(v) ** 2)
    ctx = exact_context(spec, _operator(spec))
    row = r.summary.iloc[0]
    for name in spec.observables:
        obs = OBSERVABLES[name]
        exact = float(p @ obs.diagonal(ctx)) if obs.diagonal is not None else obs.exact(ctx, v)
        assert row[f"obs_{name}"] == pytest.approx(exact, abs=1e-10), name
        assert np.isfinite(row[f"obs_{name}_error"])


@pytest.mark.parametrize(
    ("observables", "message"),
    [
        ("sx", "^observables: must be a list"),
        (["energy"], r"^observables\[0\]: must be one of sx, sz, zz_nn"),
        (["sz", "sz"], "twice"),
    ],
)
def test_bad_observable_lists_name_the_field(spec_factory, observables, message):
    from nqs_sweep.spec import SpecError

    with pytest.raises(SpecError, match=message):
        spec_factory({"name": "tfim"}, {"kind": "chain", "L": 4}, observables=observables)
