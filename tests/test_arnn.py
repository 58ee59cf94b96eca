"""Issue 8: the autoregressive network and its direct sampler.

log ψ, local energies, gradient and QGT against dense references are in
test_estimators.py (arnn-real, arnn-complex); here: Σ|ψ|² = 1 over whole spaces, the
autoregressive property itself, the distribution of direct samples against |ψ|²
(chi-square), spec refusals, product initial states, and VMC with the direct sampler.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as scipy_stats

from nqs_sweep.dynamics.initial_states import product_state_theta
from nqs_sweep.mc.sampler import direct_sample
from nqs_sweep.models import make_ansatz
from nqs_sweep.physics import hilbert
from nqs_sweep.spec import SpecError, parse_spec

# A chi-square test fails a correct sampler with this probability.
SIGNIFICANCE = 1e-3


def arnn_spec(L: int, dtype: str = "complex128", sector: str = "full", sampler: dict | None = None, kind="chain", **ansatz):
    model = {"name": "tfim"} if sector == "full" else {"name": "heisenberg"}
    return parse_spec(
        {
            "model": model,
            "lattice": {"kind": kind, "L": L},
            "hilbert": {"sector": sector},
            "ansatz": {"name": "arnn", "layers": 2, "features": 3, "dtype": dtype, "init_scale": 0.7, **ansatz},
            "sampler": sampler or {"kind": "direct", "n_samples": 64, "n_chains": 4},
        }
    )


def far_from_uniform(ansatz, seed: int = 3, scale: float = 0.7):
    """Random parameters of order ``scale``, so the conditionals are far from ½."""
    return scale * jax.random.normal(jax.random.key(seed), (ansatz.n_real_params,))


@pytest.mark.parametrize(
    "name,dtype,sector",
    [
        ("arnn", "float64", "full"),
        ("arnn", "complex128", "full"),
        ("arnn", "complex128", "zero_magnetization"),
        ("arnn", "float32", "full"),
        ("arnn_conv", "complex128", "zero_magnetization"),
    ],
)
def test_psi_is_normalised_over_the_whole_space(name, dtype, sector):
    """Σ_s |ψ(s)|² = 1 over all 2^12 states; in the sector, ψ vanishes outside it."""
    spec = arnn_spec(12, dtype, sector, name=name)
    ansatz = make_ansatz(spec)
    theta = far_from_uniform(ansatz).astype(ansatz.real_dtype)
    everything = jnp.asarray(hilbert.all_states(12, "full"), ansatz.real_dtype)
    # one jitted pass, its first 64 rows for the phase (an op-by-op pass on them: 5.2 s -> 0.7 s)
    log_psi = np.asarray(jax.jit(ansatz.log_psi)(theta, everything), np.complex128)
    prob = np.exp(2 * np.real(log_psi))
    tol = 1e-12 if dtype in ("float64", "complex128") else 1e-5
    assert abs(prob.sum() - 1) < tol
    assert prob.std() > 10 * prob.mean()  # far from uniform: the test could fail
    if sector == "zero_magnetization":
        outside = np.asarray(everything).sum(-1) != 0
        assert prob[outside].max() == 0
    if "complex" in dtype:
        assert np.std(np.imag(log_psi[:64])) > 0.1  # a phase is there


@pytest.mark.parametrize("name", ["arnn", "arnn_conv"])
def test_conditionals_depend_only_on_earlier_sites(name):
    """ψ_i(· | s) is unchanged when the spins at sites >= i change (row-major on the 3x3 lattice)."""
    spec = arnn_spec(3, kind="square", name=name)
    ansatz = make_ansatz(spec)
    theta = far_from_uniform(ansatz)
    k1, k2 = jax.random.split(jax.random.key(0))
    s = jax.random.rademacher(k1, (32, 9), dtype=jnp.float64)
    other = jax.random.rademacher(k2, (32, 9), dtype=jnp.float64)
    conditionals = jax.jit(ansatz.conditionals)
    cond = np.asarray(conditionals(theta, s))
    for i in range(9):
        mixed = jnp.concatenate([s[:, :i], other[:, i:]], axis=1)
        np.testing.assert_allclose(np.asarray(conditionals(theta, mixed))[:, i], cond[:, i], rtol=0, atol=1e-13)
        if i > 0:  # ... and does change with the earlier ones
            earlier = jnp.concatenate([other[:, :i], s[:, i:]], axis=1)
            assert not np.allclose(np.asarray(conditionals(theta, earlier))[:, i], cond[:, i])


@pytest.mark.parametrize(
    "sector,parametrization",
    [("full", "direct"), ("zero_magnetization", "direct"), ("zero_magnetization", "amplitude_phase")],
)
def test_direct_samples_follow_psi_squared(sector, parametrization):
    """10^5 direct samples on L = 8 against |ψ|²: Pearson chi-square over the states
    (those expecting fewer than 5 counts pooled), rejected at SIGNIFICANCE. With a separate
    phase network the amplitude network's conditionals are drawn from."""
    dtype = "complex128" if parametrization == "direct" else "float64"
    spec = arnn_spec(8, dtype, sector, parametrization=parametrization)
    ansatz = make_ansatz(spec)
    theta = far_from_uniform(ansatz)
    n_chains, n_per_chain = 100, 1000
    sample = jax.jit(lambda th, k: direct_sample(ansatz, th, k, n_chains=n_chains, n_per_chain=n_per_chain))(
        theta, jax.random.key(11)
    )
    configs = np.asarray(sample.configs).reshape(-1, 8)
    states = hilbert.all_states(8, sector)
    # ψ jitted, not op by op: one program for the two parameter sets (6.1 s -> 2.5 s, complex full)
    log_psi = jax.jit(ansatz.log_psi)
    prob = np.exp(2 * np.real(np.asarray(log_psi(theta, jnp.asarray(states, jnp.float64)))))
    assert abs(prob.sum() - 1) < 1e-12
    index = {k: n for n, k in enumerate(hilbert.states_to_index(states))}
    observed = np.bincount([index[k] for k in hilbert.states_to_index(configs)], minlength=len(states))
    expected = prob * configs.shape[0]
    rare = expected < 5
    obs = np.append(observed[~rare], observed[rare].sum())
    exp = np.append(expected[~rare], expected[rare].sum())
    chi2 = np.sum((obs - exp) ** 2 / exp)
    p_value = scipy_stats.chi2.sf(chi2, df=obs.size - 1)
    assert p_value > SIGNIFICANCE, f"chi2 = {chi2:.1f} on {obs.size - 1} dof"
    # and the test has power: the samples of another ψ are rejected
    wrong = np.exp(2 * np.real(np.asarray(log_psi(0.9 * theta, jnp.asarray(states, jnp.float64)))))
    exp_wrong = np.append((wrong * configs.shape[0])[~rare], (wrong * configs.shape[0])[rare].sum())
    assert scipy_stats.chi2.sf(np.sum((obs - exp_wrong) ** 2 / exp_wrong), df=obs.size - 1) < SIGNIFICANCE


@pytest.mark.parametrize(
    "name,sector,dtype",
    [("arnn", "full", "float64"), ("arnn", "zero_magnetization", "complex128"), ("arnn_conv", "full", "complex128")],
)
def test_cached_draw_gives_the_samples_of_one_forward_pass_per_site(name, sector, dtype):
    """The network's draw with cached layers and the generic draw (a full forward pass per
    site) turn the same uniforms into the same configurations (4x4, so offsets are 2D)."""
    spec = arnn_spec(4, dtype, sector, kind="square", name=name)
    ansatz = make_ansatz(spec)
    theta = far_from_uniform(ansatz, scale=0.25)  # most sites undecided, so the comparison means something
    # each draw jitted, not op by op (the generic one is a forward pass per site): 8.9 s -> 5.4 s
    # for the three cases
    fast, slow = (
        np.asarray(
            jax.jit(lambda th, k, c=c: direct_sample(ansatz, th, k, n_chains=4, n_per_chain=128, cached=c).configs)(
                theta, jax.random.key(5)
            )
        )
        for c in (True, False)
    )
    np.testing.assert_array_equal(fast, slow)
    # a non-trivial draw: both values at most sites (random O(1) weights pin a few sites)
    assert np.mean((fast == 1).any(axis=(0, 1)) & (fast == -1).any(axis=(0, 1))) >= 0.75
    if sector == "zero_magnetization":
        assert (fast.sum(-1) == 0).all()


def test_direct_sampler_refuses_an_ansatz_that_is_not_autoregressive():
    raw = {
        "model": {"name": "tfim"},
        "lattice": {"kind": "chain", "L": 8},
        "ansatz": {"name": "rbm", "alpha": 1},
        "sampler": {"kind": "direct", "n_samples": 64},
    }
    with pytest.raises(SpecError, match="arnn") as err:
        parse_spec(raw)
    assert err.value.field == "sampler.kind"
    with pytest.raises(ValueError, match="not autoregressive"):
        make_ansatz(parse_spec({**raw, "sampler": {"kind": "metropolis"}})).conditionals(jnp.zeros(17), jnp.ones((1, 8)))


def test_arnn_spec_fields():
    spec = arnn_spec(10, features=[4, 2])
    assert spec.ansatz.features == (4, 2) and spec.ansatz.alpha == 4.0  # alpha: features per site of the first layer
    assert parse_spec(spec.to_raw()) == spec
    plain = parse_spec({"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 10}, "ansatz": {"name": "arnn", "alpha": 3}})
    assert plain.ansatz.features == (3,)
    # the parameter count: only the pairs the masks allow (45 strict, 55 inclusive on 10 sites),
    # one output per site, the skip from the spins to it on the strict pairs
    assert make_ansatz(spec).n_params == 45 * 4 + 55 * 4 * 2 + 55 * 2 * 1 + 10 * (4 + 2 + 1) + 45 * 1
    with pytest.raises(SpecError) as err:
        arnn_spec(10, symmetries="translations")
    assert err.value.field == "ansatz.symmetries"
    # the masked convolution on 4x4: one weight per offset, 24 offsets before a site and 25 up to it
    conv = make_ansatz(arnn_spec(4, kind="square", name="arnn_conv", layers=1, features=2))
    assert conv.n_params == 24 * 2 * 1 + 25 * 1 * 2 + 16 * (2 + 1) + 24 * 1


@pytest.mark.parametrize("direction", ["x", "z"])
@pytest.mark.parametrize("parametrization", ["direct", "amplitude_phase"])
def test_product_states(direction, parametrization):
    """+x is the uniform state exactly; +z is all-up to the stated infidelity (a phase network
    gets a uniform phase and half the budget, which the amplitude network then leaves unused)."""
    spec = arnn_spec(10, "complex128" if parametrization == "direct" else "float64", parametrization=parametrization)
    ansatz = make_ansatz(spec)
    theta = product_state_theta(ansatz, direction, 10, 1e-4, jax.random.key(0))
    states = jnp.asarray(hilbert.all_states(10, "full"), jnp.float64)
    prob = np.exp(2 * np.real(np.asarray(jax.jit(ansatz.log_psi)(theta, states))))
    if direction == "x":
        np.testing.assert_allclose(prob, 1 / 1024, rtol=1e-12)
    else:
        budget = 1e-4 if parametrization == "direct" else 0.5e-4
        assert prob[0] == pytest.approx(1 - budget, abs=1e-9)  # state 0 is all up
    if parametrization == "amplitude_phase":
        phase = np.imag(np.asarray(jax.jit(ansatz.log_psi)(theta, states)))
        np.testing.assert_allclose(phase, phase[0], atol=1e-12)


def test_vmc_with_direct_samples_reaches_the_ising_ground_state(tmp_path):
    """Ising chain L = 8 at h = 1: 150 SR steps on direct samples reach the exact energy
    within 5 error bars plus 1e-3 relative (the variational gap of this small network);
    every history row has acceptance 1 and τ_corr near 0 (independent samples)."""
    import pandas as pd

    from nqs_sweep.jobs.vmc import run_vmc
    from nqs_sweep.physics.exact import ground_state

    spec = parse_spec(
        {
            "model": {"name": "tfim", "h": 1.0},
            "lattice": {"kind": "chain", "L": 8},
            "ansatz": {"name": "arnn", "layers": 2, "features": 4, "dtype": "float64"},
            "sampler": {"kind": "direct", "n_samples": 512, "n_chains": 8},
            "optimizer": {"kind": "sr", "learning_rate": 0.05, "diag_shift": 0.01, "n_iter": 150},
        }
    )
    exact = ground_state(spec).energy
    row = run_vmc(spec, tmp_path, exact_energy=exact, show_progress=False).iloc[0]
    assert abs(row["energy"] - exact) < 5 * row["energy_error"] + 1e-3 * abs(exact)
    history = pd.read_parquet(tmp_path / "history.parquet")
    assert (history["acceptance"] == 1.0).all()
    assert history["tau_corr"].median() < 0.2


def test_real_time_quench_from_the_x_state_follows_exact_dynamics(tmp_path):
    """t-VMC of the complex arnn from +x (exact sampler, rk4): the skip connection makes the
    pair terms of H tangent directions, so σˣ follows the exact dynamics and energy is conserved."""
    import pandas as pd

    from nqs_sweep.jobs.tvmc import run_tvmc
    from nqs_sweep.quench import parse_quench

    quench = {
        "model": {"name": "tfim", "h": 0.5},
        "lattice": {"kind": "chain", "L": 6},
        "ansatz": {"name": "arnn", "layers": 1, "features": 4, "dtype": "complex128"},
        "sampler": {"kind": "exact"},
        "initial": {"kind": "product", "direction": "x"},
        "dynamics": {"kind": "real", "t_final": 0.2, "dt": 0.01, "integrator": "rk4", "save_every": 0.05},
    }
    summary = run_tvmc(parse_quench(quench), tmp_path, show_progress=False).iloc[0]
    traj = pd.read_parquet(tmp_path / "trajectory.parquet")
    sx = traj[traj["observable"] == "sx"].sort_values("time")
    assert sx["value"].iloc[-1] < 0.9  # the quench moves it ...
    assert sx["abs_error"].max() < 1e-6  # ... as the exact dynamics does
    assert summary["status"] == "completed" and summary["energy_drift_max"] < 1e-6
