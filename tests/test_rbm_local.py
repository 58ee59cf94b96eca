"""The short-range RBM: its weights are those of a dense RBM zero outside each unit's window, its
parameters are counted as the free ones, and its range is checked against the lattice."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nqs_sweep.models import make_ansatz, rbm
from nqs_sweep.models.rbm_local import dense, windows
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.lattice import Lattice
from nqs_sweep.spec import SpecError, parse_spec


def spec_of(lattice: dict, **ansatz):
    return parse_spec({"model": {"name": "tfim"}, "lattice": lattice, "ansatz": {"name": "rbm_local", **ansatz}})


def test_each_unit_sees_its_window_only():
    chain = windows(Lattice("chain", 8), 2)
    assert sorted(chain[0]) == [0, 1, 2, 6, 7] and chain[0][0] == 0  # periodic: wrapped
    square = windows(Lattice("square", 4), 1)
    assert sorted(square[5]) == [0, 1, 2, 4, 5, 6, 8, 9, 10]


def test_log_psi_is_the_dense_rbm_with_zeros_outside_the_windows():
    spec = spec_of({"kind": "chain", "L": 8}, alpha=2, range=1, dtype="complex128", init_scale=0.5)
    ansatz = make_ansatz(spec)
    theta = ansatz.init(jax.random.key(0))
    params = ansatz.to_tree(theta)
    states = jnp.asarray(hilbert.all_states(8, "full"), jnp.float64)
    assert ansatz.n_params == 8 + 16 + 16 * 3  # a, b, and 3 weights per unit
    w = np.asarray(dense(params, np.repeat(windows(Lattice("chain", 8), 1), 2, axis=0))["W"])
    assert (np.count_nonzero(w, axis=1) == 3).all() and w[0, 4] == 0 and w[0, 7] != 0
    np.testing.assert_allclose(np.asarray(ansatz(theta, states)), np.asarray(rbm.log_psi({**params, "W": w}, states)), rtol=1e-12)


def schmidt_rank(name: str, **ansatz) -> int:
    spec = parse_spec({"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 10}, "ansatz": {"name": name, **ansatz}})
    net = make_ansatz(spec)
    v = np.exp(np.asarray(net(net.init(jax.random.key(1)), jnp.asarray(hilbert.all_states(10, "full"), jnp.float64))))
    sv = np.linalg.svd(v.reshape(32, 32), compute_uv=False)  # sites 0-4 against 5-9
    return int((sv > 1e-10 * sv[0]).sum())


def test_the_entanglement_is_bounded_by_the_units_across_the_cut():
    """The area law of short-range RBMs (Deng, Li and Das Sarma): each hidden unit is a factor
    cosh(θ_A + θ_B), of Schmidt rank 2 when its window straddles the cut and 1 otherwise. On the
    periodic 10-site chain cut into halves, range 1 and one unit per site put 4 units across the
    two cuts: Schmidt rank at most 16, where a generic state, and the fully connected RBM with
    as many units, have 32."""
    kw = {"dtype": "complex128", "init_scale": 0.5}
    assert schmidt_rank("rbm_local", alpha=1, range=1, **kw) == 16  # generic parameters reach the bound
    assert schmidt_rank("rbm", alpha=1, **kw) == 32


def test_the_bound_is_set_by_the_range_not_by_the_number_of_units():
    """The sharper form of the same law: every factor straddling a cut depends only on the 2R
    sites on either side of it, so the Schmidt rank across one cut is at most 2^(2R) however many
    units per site there are, and S2 of a block of the periodic chain (two cuts) is at most
    4R ln 2. Three units per site of range 1 put 12 units across the cuts (a count bound of
    2^12, above the 32 of a half chain), and the rank stays 16; range 2 lifts it to 2^8 > 32."""
    kw = {"dtype": "complex128", "init_scale": 0.5}
    assert schmidt_rank("rbm_local", alpha=3, range=1, **kw) == 16
    assert schmidt_rank("rbm_local", alpha=1, range=2, **kw) == 32


@pytest.mark.parametrize(
    "lattice, ansatz, field, words",
    [
        ({"kind": "chain", "L": 4}, {"range": 2}, "ansatz.range", "exceeds L = 4"),
        ({"kind": "chain", "L": 8}, {"range": 0}, "ansatz.range", ">= 1"),
        ({"kind": "chain", "L": 8, "pbc": False}, {"range": 1}, "ansatz.name", "pbc: true"),
    ],
)
def test_a_range_the_lattice_cannot_hold_is_refused(lattice, ansatz, field, words):
    with pytest.raises(SpecError) as err:
        spec_of(lattice, **ansatz)
    assert err.value.field == field and words in str(err.value)


def test_range_applies_to_the_short_range_rbm_only():
    with pytest.raises(SpecError, match="applies to rbm_local"):
        parse_spec({"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 8}, "ansatz": {"name": "rbm", "range": 1}})
    plain = parse_spec({"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 8}, "ansatz": {"name": "rbm"}})
    assert "range" not in plain.to_dict()["ansatz"]  # the hash of every earlier point stays
    local = spec_of({"kind": "chain", "L": 8}, alpha=1)
    assert local.ansatz.range == 1 and parse_spec(local.to_raw()) == local
