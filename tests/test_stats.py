"""Statistics on synthetic chains with known answers.

AR(1) chains x_t = φ x_{t-1} + noise have ρ(t) = φ^t, so τ = Σ_{t≥1} φ^t = φ/(1-φ)
in our convention (τ = 0 for independent samples).
"""

import jax.numpy as jnp
import numpy as np

from nqs_sweep.mc.stats import chain_stats, integrated_time, reweighted_chain_stats, split_r_hat, weighted_stats


def ar1(rng, phi, n_chains, n, mean=0.0):
    x = np.empty((n_chains, n))
    x[:, 0] = rng.standard_normal(n_chains) / np.sqrt(1 - phi**2)
    noise = rng.standard_normal((n_chains, n))
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x + mean


def test_tau_of_independent_samples_is_near_zero():
    x = np.random.default_rng(0).standard_normal((16, 4000))
    assert abs(float(integrated_time(jnp.asarray(x)))) < 0.05


def test_tau_of_ar1_matches_theory():
    rng = np.random.default_rng(1)
    for phi in (0.5, 0.9):
        tau = float(integrated_time(jnp.asarray(ar1(rng, phi, 16, 8000))))
        expected = phi / (1 - phi)
        assert abs(tau - expected) < 0.15 * expected, (phi, tau, expected)


def test_corrected_error_matches_spread_of_means_across_replicas():
    """The autocorrelation-corrected error predicts the scatter of independent estimates;
    the naive one underestimates it by sqrt(1 + 2τ)."""
    rng = np.random.default_rng(2)
    phi = 0.8
    means, errors, naive = [], [], []
    for _ in range(200):
        s = chain_stats(jnp.asarray(ar1(rng, phi, 8, 500)))
        means.append(float(s.mean))
        errors.append(float(s.error))
        naive.append(float(s.error_naive))
    spread = np.std(means, ddof=1)
    # 200 replicas: the sample std has a relative uncertainty of about 5%
    assert abs(np.mean(errors) / spread - 1) < 0.2
    assert np.mean(naive) < 0.5 * spread  # sqrt(1 + 2*4) = 3


def test_split_r_hat_near_one_for_mixed_and_large_for_stuck_chains():
    rng = np.random.default_rng(3)
    mixed = rng.standard_normal((8, 1000))
    assert abs(float(split_r_hat(jnp.asarray(mixed))) - 1) < 0.01
    stuck = mixed + np.arange(8)[:, None]  # chains that never visit each other's regions
    assert float(split_r_hat(jnp.asarray(stuck))) > 2
    drifting = mixed + np.linspace(0, 3, 1000)[None, :]  # non-stationary: halves disagree
    assert float(split_r_hat(jnp.asarray(drifting))) > 1.1


def test_weighted_stats_are_exact_expectations():
    x = jnp.asarray([1.0, 2.0, 4.0])
    w = jnp.asarray([0.5, 0.25, 0.25])
    s = weighted_stats(x, w)
    assert float(s.mean) == 2.0
    assert float(s.variance) == 0.5 * 1 + 0.25 * 0 + 0.25 * 4
    assert float(s.error) == 0.0


def test_reweighted_stats_with_uniform_weights_are_the_chain_stats():
    x = jnp.asarray(ar1(np.random.default_rng(4), 0.5, 8, 400))
    a, b = chain_stats(x), reweighted_chain_stats(x, jnp.full(x.size, 1.0 / x.size))
    for field in ("mean", "error", "variance", "r_hat", "tau_corr", "error_naive"):
        np.testing.assert_allclose(float(getattr(a, field)), float(getattr(b, field)), rtol=1e-12, atol=1e-14)


def test_reweighted_error_predicts_the_spread_of_importance_sampled_means():
    """Draws of N(0, 1) reweighted to N(1, 1) (w ∝ e^x): the self-normalised mean is near 1 and
    the delta-method error matches the scatter across 300 replicas (the naive error of the raw
    draws, 1/√B, underestimates it: the weights cost effective samples)."""
    rng = np.random.default_rng(5)
    means, errors = [], []
    for _ in range(300):
        x = rng.standard_normal((8, 128))
        w = np.exp(x.reshape(-1))
        s = reweighted_chain_stats(jnp.asarray(x), jnp.asarray(w / w.sum()))
        means.append(float(s.mean))
        errors.append(float(s.error))
    assert abs(np.mean(means) - 1.0) < 0.05
    spread = np.std(means, ddof=1)
    assert abs(np.mean(errors) / spread - 1) < 0.25
    assert spread > 1.5 / np.sqrt(8 * 128)


def test_health_flags_name_each_sampling_problem():
    from nqs_sweep.mc.stats import health_flags

    assert health_flags(1.01, 2.0, 256, 0.4) == ""
    assert health_flags(float("nan"), float("nan"), 1, float("nan")) == ""  # an enumeration: no chains
    flags = health_flags(1.3, 40.0, 256, 0.001)
    assert flags == "r_hat=1.30, tau=40 of 256, acceptance=0.001"
    assert health_flags(1.01, 2.0, 256, 0.4, fallbacks=3, steps=300) == "solver_fallback=3 of 300 steps"
