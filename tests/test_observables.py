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
