import math

import jax
import numpy as np
import pytest

from nqs_sweep.physics import hilbert


@pytest.mark.parametrize("sector", ["full", "zero_magnetization"])
def test_enumeration_roundtrips_and_has_the_right_size(sector):
    states = hilbert.all_states(8, sector)
    assert len(states) == hilbert.hilbert_dim(8, sector) == (256 if sector == "full" else math.comb(8, 4))
    np.testing.assert_array_equal(hilbert.states_to_index(states), hilbert.sector_indices(8, sector))
    assert len({tuple(s) for s in states}) == len(states)
    if sector == "zero_magnetization":
        assert np.all(states.sum(axis=1) == 0)


def test_site_zero_is_the_most_significant_bit_as_in_kron():
    # index 1 = 0b0001 on 4 sites: only the last site is down
    np.testing.assert_array_equal(hilbert.index_to_states(np.array([1]), 4)[0], [1, 1, 1, -1])


def test_random_states_stay_in_the_sector():
    s = np.asarray(hilbert.random_states(jax.random.key(0), 100, 10, "zero_magnetization"))
    assert s.shape == (100, 10) and np.all(s.sum(axis=1) == 0) and set(np.unique(s)) == {-1.0, 1.0}
    full = np.asarray(hilbert.random_states(jax.random.key(0), 2000, 10, "full"))
    assert abs(full.mean()) < 0.05  # unbiased
