"""The pair-product network (models.pair_product): its amplitudes are the fermionic pair
product's, built here in Fock space with Jordan-Wigner matrices; singlet pairing is a singlet;
and it is refused outside the zero-magnetisation sector."""

import itertools
from functools import reduce

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.linalg import eigsh

from nqs_sweep.models import make_ansatz
from nqs_sweep.models.pair_product import log_pair_product, pi_flux_pairing
from nqs_sweep.physics import hilbert
from nqs_sweep.physics.exact import sector_matrix
from nqs_sweep.physics.hamiltonians import build_hamiltonian
from nqs_sweep.physics.lattice import Lattice
from nqs_sweep.spec import SpecError
from reference import SX, SY, SZ, pair_op


def fock_pair_product(f: np.ndarray) -> dict[tuple[int, ...], complex]:
    """⟨s|(Σ_ij F_ij c†_i↑ c†_j↓)^{N/2}|0⟩ for each zero-magnetisation s, with
    |s⟩ = c†_{0,s_0} c†_{1,s_1} … |0⟩ (mode 2i + 0 for ↑, 2i + 1 for ↓, Jordan-Wigner)."""
    n = f.shape[0]
    modes = 2 * n
    z, lower, one = (sparse.csr_matrix(m) for m in (np.diag([1.0, -1.0]), [[0.0, 1.0], [0.0, 0.0]], np.eye(2)))
    c = [reduce(lambda a, b: sparse.kron(a, b, "csr"), [z] * k + [lower] + [one] * (modes - k - 1)) for k in range(modes)]
    up, down = [c[2 * i].T.tocsr() for i in range(n)], [c[2 * i + 1].T.tocsr() for i in range(n)]
    pair = sum(f[i, j] * (up[i] @ down[j]) for i in range(n) for j in range(n))
    vacuum = np.zeros(2**modes, dtype=f.dtype)
    vacuum[0] = 1
    state = vacuum
    for _ in range(n // 2):
        state = pair @ state
    out = {}
    for ups in itertools.combinations(range(n), n // 2):
        s = tuple(1 if i in ups else -1 for i in range(n))
        basis = vacuum
        for i in reversed(range(n)):
            basis = (up[i] if s[i] > 0 else down[i]) @ basis
        out[s] = np.vdot(basis, state)
    return out


@pytest.mark.parametrize("n,dtype", [(4, float), (6, float), (6, complex)])
def test_amplitudes_are_the_fermionic_pair_products(n, dtype):
    rng = np.random.default_rng(n)
    f = rng.normal(size=(n, n)) + (1j * rng.normal(size=(n, n)) if dtype is complex else 0)
    reference = fock_pair_product(f)
    s = np.array(list(reference))
    ours = np.exp(np.asarray(log_pair_product(jnp.asarray(f), jnp.asarray(s))))
    ratio = ours / np.array(list(reference.values()))
    # equal up to one constant: the pair product's (N/2)! and the sign of its operator order
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
    assert np.all(np.abs(ours) > 1e-8)


def test_singlet_pairing_is_a_singlet_and_triplet_pairing_is_not():
    """A symmetric F pairs in singlets: total spin S² = 0 on the full state vector of a 6-site
    chain (with the RBM correlator switched off); an antisymmetric F gives S² > 0."""
    n = 6
    states = np.asarray(hilbert.all_states(n, "zero_magnetization"))
    index = [sum(int(si < 0) << (n - 1 - k) for k, si in enumerate(s)) for s in states]  # σᶻ|0⟩ = +|0⟩
    s_squared = sum(pair_op(op, i, j, n) for op in (SX, SY, SZ) for i in range(n) for j in range(n)) / 4
    rng = np.random.default_rng(1)
    g = rng.normal(size=(n, n))
    for f, singlet in ((g + g.T, True), (g - g.T, False)):
        psi = np.zeros(2**n, complex)
        psi[index] = np.exp(np.asarray(log_pair_product(jnp.asarray(f), jnp.asarray(states))))
        value = np.vdot(psi, s_squared @ psi).real / np.vdot(psi, psi).real
        assert (abs(value) < 1e-10) == singlet, value


def test_the_network_is_a_pair_product_times_an_rbm(spec_factory):
    spec = spec_factory(
        model={"name": "heisenberg"},
        lattice={"kind": "square", "L": 4, "pbc": True},
        ansatz={"name": "rbm_pp", "alpha": 1},
        sampler={"move": "exchange"},
    )
    ansatz = make_ansatz(spec)
    assert ansatz.n_params == 16 * 16 + (16 + 16 + 16 * 16)
    tree = ansatz.init_params(jax.random.key(0))
    # nearest-neighbour pairing to start with: 4 bonds a site on the periodic 4x4 lattice
    assert np.sum(np.abs(np.asarray(tree["F"])) > 0.5) == 4 * 16
    s = jnp.asarray(hilbert.random_states(jax.random.key(1), 50, 16, "zero_magnetization", jnp.float64))
    assert np.all(np.isfinite(np.asarray(ansatz.log_psi(ansatz.init(jax.random.key(0)), s))))


def test_the_pi_flux_start_is_near_the_frustrated_ground_state(spec_factory):
    """The starting pairing (π flux, antiperiodic for L = 4) on periodic 4x4 J1-J2 at J2 = 0.5:
    within 2 % of the exact energy with no training, and nonzero on the Néel states of 4x4 and
    6x6 (uniform pairing cancels there and started 45 % above the ground state)."""
    spec = spec_factory(
        model={"name": "j1j2", "J1": 1.0, "J2": 0.5},
        lattice={"kind": "square", "L": 4, "pbc": True},
        ansatz={"name": "rbm_pp", "alpha": 1},
        sampler={"move": "exchange"},
    )
    states = hilbert.all_states(16, "zero_magnetization")
    psi = np.exp(
        np.asarray(log_pair_product(jnp.asarray(pi_flux_pairing(Lattice("square", 4, True))), jnp.asarray(states, float)))
    ).real
    H = sector_matrix(build_hamiltonian(spec), 16, "zero_magnetization")
    exact = eigsh(H, k=1, which="SA")[0][0]
    energy = psi @ (H @ psi) / (psi @ psi)
    assert exact < energy < exact + 0.02 * abs(exact), (energy, exact)
    for L in (4, 6):
        neel = np.array([(-1) ** (i // L + i % L) for i in range(L * L)], float)
        log_amplitude = log_pair_product(jnp.asarray(pi_flux_pairing(Lattice("square", L, True))), jnp.asarray(neel[None]))[0]
        assert np.isfinite(np.real(log_amplitude))


SQUARE4 = {"lattice": {"kind": "square", "L": 4, "pbc": True}, "ansatz": {"name": "rbm_pp", "alpha": 1}}


@pytest.mark.parametrize(
    "fields,field,words",
    [
        # a model without the sector: no move can help
        ({"model": {"name": "tfim"}}, "ansatz.name", "tfim does not conserve"),
        # the default local move gives the full space: the move is what to change
        ({"model": {"name": "heisenberg"}}, "sampler.move", "set sampler.move: exchange"),
        ({"model": {"name": "heisenberg"}, "hilbert": {"sector": "full"}}, "hilbert.sector", "zero_magnetization only"),
        ({"model": {"name": "heisenberg"}, "sampler": {"move": "exchange"}, "marshall_sign": True}, "marshall_sign", "own signs"),
        (
            {
                "model": {"name": "heisenberg"},
                "sampler": {"move": "exchange"},
                "ansatz": {"name": "rbm_pp", "alpha": 1, "parametrization": "amplitude_phase"},
            },
            "ansatz.parametrization",
            "drops the signs",
        ),
    ],
)
def test_what_it_cannot_represent_is_refused_naming_the_field(spec_factory, fields, field, words):
    with pytest.raises(SpecError, match=words) as refused:
        spec_factory(**{**SQUARE4, **fields})
    assert refused.value.field == field


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_slogdet_by_elimination_equals_lapacks_and_its_gradient_is_the_inverse_transpose(dtype):
    """The pair product's determinant (models.pair_product.slogdet, XLA operations instead of
    LAPACK's batched call, which deadlocked with two pool threads): sign or phase and log |det| equal
    numpy's on a batch that includes a row swap at every step; the gradient of log |det| is
    Re[(A⁻¹)ᵀ] (its conjugate for a complex A); a singular matrix gives (0, −inf)."""
    from nqs_sweep.models.pair_product import slogdet

    rng = np.random.default_rng(3)
    a = rng.normal(size=(50, 6, 6)).astype(dtype)
    if np.iscomplexobj(a):
        a = a + 1j * rng.normal(size=a.shape)
    a[0] = np.eye(6)[::-1] * (1 + rng.random(6))  # the pivot is below the diagonal at every step
    sign, log_abs = jax.jit(slogdet)(jnp.asarray(a))
    ref_sign, ref_log = np.linalg.slogdet(a)
    np.testing.assert_allclose(np.asarray(sign), ref_sign, atol=1e-12)
    np.testing.assert_allclose(np.asarray(log_abs), ref_log, atol=1e-12)
    grad = jax.grad(lambda x: jnp.sum(slogdet(x)[1]), holomorphic=False)(jnp.asarray(a))
    inverse_t = np.linalg.inv(a).transpose(0, 2, 1)
    # for a complex A, jax.grad of a real function is ∂/∂Re A − i ∂/∂Im A, and d log|det A| = Re tr(A⁻¹ dA)
    np.testing.assert_allclose(np.asarray(grad), inverse_t, rtol=1e-8, atol=1e-8 * np.abs(inverse_t).max())
    singular = np.ones((1, 4, 4), dtype)
    sign, log_abs = slogdet(jnp.asarray(singular))
    assert float(np.abs(sign[0])) == 0 and np.isneginf(float(log_abs[0]))
