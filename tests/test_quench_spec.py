"""The quench spec: defaults, round trip, and bad input refused naming the field."""

import copy

import pytest

from nqs_sweep.quench import initial_point_spec, parse_quench
from nqs_sweep.spec import SpecError

BASE = {
    "model": {"name": "tfim", "J": 1.0, "h": 1.0},
    "lattice": {"kind": "chain", "L": 8},
    "ansatz": {"name": "rbm", "alpha": 1, "dtype": "complex128"},
    "initial": {"kind": "ground_state", "model": {"name": "tfim", "h": 0.5}},
    "dynamics": {"kind": "real", "t_final": 2.0, "dt": 0.01, "integrator": "rk4", "save_every": 0.05},
}


def with_(path: str, value):
    raw = copy.deepcopy(BASE)
    d = raw
    keys = path.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    if value is DELETE:
        d.pop(keys[-1])
    else:
        d[keys[-1]] = value
    return raw


DELETE = object()


def test_defaults_round_trip_and_the_initial_point():
    q = parse_quench(BASE)
    assert q.dynamics.regularization.kind == "pinv" and q.dynamics.observables == ("sx", "sz", "zz_nn", "energy")
    assert parse_quench(q.to_raw()) == q and parse_quench(q.to_raw()).spec_hash == q.spec_hash
    init = initial_point_spec(q)
    assert dict(init.model.couplings) == {"J": 1.0, "h": 0.5} and init.ansatz == q.point.ansatz
    times = q.dynamics.save_times()
    assert len(times) == 41 and times[0] == 0 and times[-1] == pytest.approx(2.0)
    assert parse_quench(with_("dynamics.t_final", 0.12)).dynamics.save_times()[-1] == pytest.approx(0.12)
    assert with_("dynamics.kind", "imaginary") and parse_quench(with_("dynamics.kind", "imaginary")).dynamics.kind == "imaginary"
    assert parse_quench(with_("initial", {"kind": "product", "direction": "x"})).initial.direction == "x"


@pytest.mark.parametrize(
    "path,value,field",
    [
        ("dynamics.t_final", 0.0, "dynamics.t_final"),
        ("dynamics.t_final", -1.0, "dynamics.t_final"),
        ("dynamics.dt", 0.0, "dynamics.dt"),
        ("dynamics.dt", -0.01, "dynamics.dt"),
        ("dynamics.dt", 3.0, "dynamics.dt"),
        ("dynamics.integrator", "rk45", "dynamics.integrator"),
        ("dynamics.regularization", {"kind": "tikhonov"}, "dynamics.regularization.kind"),
        ("dynamics.regularization", {"kind": "pinv", "rcond": -1e-8}, "dynamics.regularization.rcond"),
        ("dynamics.regularization", {"kind": "snr", "snr_threshold": -2.0}, "dynamics.regularization.snr_threshold"),
        ("dynamics.regularization", {"kind": "diag_shift", "diag_shift": -1e-4}, "dynamics.regularization.diag_shift"),
        ("dynamics.regularization", {"kind": "pinv", "diag_shift": 1e-4}, "dynamics.regularization.diag_shift"),
        ("dynamics.atol", 1e-5, "dynamics.atol"),  # not adaptive
        ("dynamics.observables", ["sx", "sy"], "dynamics.observables[1]"),
        ("dynamics.observables", [], "dynamics.observables"),
        ("dynamics.save_every", 0.015, "dynamics.save_every"),
        ("dynamics.save_every", 5.0, "dynamics.save_every"),
        ("dynamics.kind", "complex", "dynamics.kind"),
        ("dynamics", DELETE, "spec.dynamics"),
        ("initial", DELETE, "spec.initial"),
        ("initial.kind", "thermal", "initial.kind"),
        ("initial.model", DELETE, "initial.model"),
        ("initial.model", {"name": "tfim", "Delta": 1.0}, "initial.model.Delta"),
        ("initial.model", {"name": "tfim", "h": "half"}, "initial.model.h"),
        ("ansatz.dtype", "float64", "ansatz.dtype"),  # real time needs a phase: complex parameters or a phase network
        ("initial", {"kind": "product", "direction": "y"}, "initial.direction"),
        ("initial", {"kind": "product"}, "initial.direction"),
        ("initial", {"kind": "product", "direction": "z", "infidelity": 1.5}, "initial.infidelity"),
        ("initial", {"kind": "product", "direction": "x", "model": {"h": 1.0}}, "initial.model"),
        ("symmetry", {"project": "final", "final_steps": 10}, "symmetry.project"),  # a stage of an optimisation
    ],
)
def test_bad_input_is_refused_naming_the_field(path, value, field):
    with pytest.raises(SpecError) as err:
        parse_quench(with_(path, value))
    assert err.value.field == field, str(err.value)


def test_a_phase_network_carries_real_time_with_real_parameters():
    q = parse_quench(with_("ansatz", {"name": "rbm", "alpha": 1, "parametrization": "amplitude_phase"}))
    assert q.point.ansatz.dtype == "float64" and q.point.ansatz.complex_output
    with pytest.raises(SpecError, match="amplitude_phase"):
        parse_quench(with_("ansatz.dtype", "float64"))


def test_adaptive_settings_are_checked():
    adaptive = with_("dynamics.integrator", "rk23")
    adaptive["dynamics"].update(atol=1e-5, rtol=1e-4, error_norm="qgt")
    q = parse_quench(adaptive)
    assert q.dynamics.adaptive and q.dynamics.error_norm == "qgt"
    for key, value, field in [
        ("atol", -1e-5, "dynamics.atol"),
        ("rtol", -1.0, "dynamics.rtol"),
        ("error_norm", "max", "dynamics.error_norm"),
        ("dt_min", 0.1, "dynamics.dt"),
    ]:
        bad = copy.deepcopy(adaptive)
        bad["dynamics"][key] = value
        with pytest.raises(SpecError) as err:
            parse_quench(bad)
        assert err.value.field == field
    both_zero = copy.deepcopy(adaptive)
    both_zero["dynamics"].update(atol=0.0, rtol=0.0)
    with pytest.raises(SpecError, match="both"):
        parse_quench(both_zero)


def test_sector_and_product_state_constraints():
    heis = {**copy.deepcopy(BASE), "model": {"name": "heisenberg"}, "sampler": {"move": "exchange"}, "marshall_sign": True}
    heis["initial"] = {"kind": "ground_state", "model": {"name": "xxz", "Delta": 2.0}}
    heis["dynamics"] = {**heis["dynamics"], "observables": ["sz", "zz_nn", "energy"]}
    q = parse_quench(heis)
    assert initial_point_spec(q).model.name == "xxz" and q.point.sector == "zero_magnetization"
    with pytest.raises(SpecError) as err:
        parse_quench({**heis, "dynamics": {**heis["dynamics"], "observables": ["sx"]}})
    assert err.value.field == "dynamics.observables"
    with pytest.raises(SpecError) as err:
        parse_quench({**heis, "initial": {"kind": "product", "direction": "x"}})
    assert err.value.field == "initial.kind"
    with pytest.raises(SpecError) as err:  # the initial model is checked like the point's (marshall on a tfim)
        parse_quench({**heis, "initial": {"kind": "ground_state", "model": {"name": "tfim"}}})
    assert err.value.field == "initial.marshall_sign"


def test_a_quench_may_run_projected_onto_a_sector():
    """The point of a quench takes a symmetry sector like a ground-state point; the initial ground
    state is computed in the same sector."""
    q = parse_quench(with_("symmetry", {"project": "train"}))
    assert q.point.symmetry.sector.label(8) == "k=(0) even flip=+1"
    assert initial_point_spec(q).symmetry == q.point.symmetry


def test_product_states_are_the_networks_own():
    """Each network that takes a product initial state registers its check and builds its state
    (registry hooks, no list of names in the quench parser); the others are refused."""
    import jax
    import numpy as np

    from nqs_sweep.models import make_ansatz
    from nqs_sweep.models.registry import NETWORKS

    with_states = [n for n, net in NETWORKS.items() if net.product_state_check is not None]
    assert {"rbm", "rbm_symm", "ffnn", "arnn", "arnn_conv"} <= set(with_states) and "gcnn" not in with_states
    q = parse_quench(with_("initial", {"kind": "product", "direction": "x"}))
    assert make_ansatz(q.point).product_state_tree is not None
    with pytest.raises(SpecError) as err:
        parse_quench({**with_("initial", {"kind": "product", "direction": "x"}), "ansatz": {"name": "gcnn", "features": [2]}})
    assert err.value.field == "initial.kind" and "rbm_symm" in str(err.value)
    # the symmetric RBM seeds its weights for every copy of a filter over the group: a smaller scale
    from nqs_sweep.dynamics.initial_states import product_state_theta

    plain = parse_quench(with_("initial", {"kind": "product", "direction": "x"}))
    symm = parse_quench(
        {
            **with_("initial", {"kind": "product", "direction": "x"}),
            "ansatz": {"name": "rbm_symm", "alpha": 8, "dtype": "complex128"},
        }
    )
    th_plain = product_state_theta(make_ansatz(plain.point), "x", 8, 1e-6, jax.random.key(0))
    th_symm = product_state_theta(make_ansatz(symm.point), "x", 8, 1e-6, jax.random.key(0))
    assert np.std(np.asarray(th_symm)) < np.std(np.asarray(th_plain))
