"""Zero-variance extrapolation (tables.extrapolation): the fit, the families it fits over, and the
figure drawn from it."""

import numpy as np
import pandas as pd
import pytest

from nqs_sweep.figures.plots import plot_zero_variance
from nqs_sweep.tables.extrapolation import linear_fit, zero_variance_extrapolation


def test_a_linear_family_extrapolates_to_its_intercept_within_its_error():
    """Points drawn about E = E0 + b σ² with Gaussian errors of known size: over many draws the
    fit's error bar covers the truth at its nominal rate (within 3σ always, within 1σ near 68 %)."""
    rng = np.random.default_rng(0)
    e0, b = -10.0, 0.8
    variance = np.array([0.4, 0.2, 0.1, 0.05])
    sigma = np.array([2e-3, 1.5e-3, 1e-3, 5e-4])
    pulls = []
    for _ in range(400):
        energy = e0 + b * variance + rng.normal(0, sigma)
        fit = linear_fit(variance, energy, sigma)
        pulls.append((fit["energy_extrapolated"] - e0) / fit["energy_extrapolated_error"])
        assert abs(fit["slope"] - b) < 5 * fit["slope_error"]
    pulls = np.abs(pulls)
    assert pulls.max() < 5
    # scaling by the reduced χ² (only upwards) widens some error bars: coverage at or above 68 %
    assert 0.66 < np.mean(pulls < 1) < 0.9


def test_exact_points_give_the_exact_line_and_two_points_the_line_through_them():
    fit = linear_fit(np.array([1.0, 2.0, 3.0]), np.array([-4.0, -3.5, -3.0]), np.array([0.01, 0.01, 0.01]))
    assert fit["energy_extrapolated"] == pytest.approx(-4.5) and fit["slope"] == pytest.approx(0.5)
    assert fit["chi2_dof"] == pytest.approx(0.0, abs=1e-20)
    two = linear_fit(np.array([1.0, 3.0]), np.array([-4.0, -3.0]), np.array([0.1, 0.1]))
    assert two["energy_extrapolated"] == pytest.approx(-4.5) and np.isnan(two["chi2_dof"])
    # the error of the intercept from the two error bars: x̄ = 2, Σ(x − x̄)² = 2 -> 0.1 sqrt(1/2 + 4/2)
    assert two["energy_extrapolated_error"] == pytest.approx(0.1 * np.sqrt(2.5))


def test_scatter_beyond_the_error_bars_widens_the_error():
    x, sigma = np.array([0.1, 0.2, 0.3, 0.4]), np.full(4, 1e-4)
    tight = linear_fit(x, -1 + x, sigma)
    curved = linear_fit(x, -1 + x + 0.5 * x**2, sigma)
    assert curved["chi2_dof"] > 100
    assert curved["energy_extrapolated_error"] > 10 * tight["energy_extrapolated_error"]


def test_a_family_at_its_noise_floor_is_said_to_have_no_approach():
    df = energies()
    df["energy"] = np.where(df["h"] == 0.5, -10.0 - 0.01 * df["variance"], df["energy"])  # falling with σ²
    table = zero_variance_extrapolation(df).set_index("h")
    assert "no approach" in table.loc[0.5, "note"] and table.loc[1.0, "note"] == ""


def test_a_depth_sweep_is_one_family_though_its_variants_name_the_depth():
    """A layers sweep writes its depth into the variant column (study.point_variant); the family
    is still every depth, and another setting in the variant still sets a family apart."""
    df = energies()
    df["variant"] = df["alpha"].map(lambda a: "" if a == 1 else f"ansatz_layers~{int(a)}")
    df.loc[df["h"] == 1.0, "variant"] += "/optimizer_learning_rate~0.02"
    table = zero_variance_extrapolation(df).set_index("h")
    assert (table["n_sizes"] == 3).all() and (table["n_points"] == 6).all()
    assert table.loc[1.0, "variant"] == "optimizer_learning_rate~0.02" and table.loc[0.5, "variant"] == ""


def test_one_size_with_several_seeds_is_said_so_and_not_drawn(tmp_path):
    df = energies()
    df = df[df["alpha"] == 2].assign(variance=lambda d: d["variance"] + 0.01 * d["seed"])
    table = zero_variance_extrapolation(df)
    assert (table["n_sizes"] == 1).all() and table["note"].str.startswith("one network size").all()
    plot_zero_variance(df, [tmp_path / "one.png"])
    plot_zero_variance(energies(), [tmp_path / "three.png"])
    assert (tmp_path / "one.png").stat().st_size < (tmp_path / "three.png").stat().st_size / 2


def energies(**overrides) -> pd.DataFrame:
    """A width sweep (α 1, 2, 4 with two seeds) at two couplings, like the energies table."""
    rows = []
    for h, e0 in ((0.5, -10.0), (1.0, -12.0)):
        for alpha, var in ((1, 0.3), (2, 0.1), (4, 0.05)):
            for seed in (0, 1):
                rows.append(
                    {
                        "study": "s", "model": "tfim", "h": h, "J": 1.0, "lattice": "chain", "L": 8, "n_sites": 8,
                        "ansatz": "rbm", "alpha": alpha, "features": str(alpha), "layers": 1, "seed": seed,
                        "spec_hash": f"{h}-{alpha}-{seed}", "n_params": 8 + 72 * alpha, "status": "converged",
                        "energy": e0 + 0.5 * var + 1e-4 * (seed - 0.5), "energy_error": 1e-3, "variance": var,
                        "exact_energy": e0, "reference_method": "lanczos", "variant": "",
                    }
                )  # fmt: skip
    df = pd.DataFrame(rows)
    for column, value in overrides.items():
        df[column] = value
    return df


def test_families_are_the_points_that_differ_in_size_and_seed_only():
    table = zero_variance_extrapolation(energies()).set_index("h")
    assert list(table.index) == [0.5, 1.0]
    assert (table["n_points"] == 6).all() and (table["n_sizes"] == 3).all() and (table["n_params_max"] == 8 + 288).all()
    assert table.loc[0.5, "energy_extrapolated"] == pytest.approx(-10.0, abs=1e-3)
    assert table.loc[1.0, "rel_error_extrapolated"] < 1e-4
    # the best point is the widest network's lower seed, beside the extrapolation
    assert (
        table.loc[0.5, "best_spec_hash"] == "0.5-4-0"
        and table.loc[0.5, "rel_error_best"] > table.loc[0.5, "rel_error_extrapolated"]
    )


def test_failed_points_are_left_out_and_a_family_without_two_variances_is_said_so():
    df = energies()
    df.loc[df["alpha"] == 4, "status"] = "diverged"
    df.loc[(df["h"] == 1.0) & (df["alpha"] == 2), "status"] = "failed"
    table = zero_variance_extrapolation(df).set_index("h")
    assert table.loc[0.5, "n_points"] == 4 and table.loc[0.5, "note"].startswith("two network sizes")
    assert table.loc[1.0, "n_points"] == 2 and np.isnan(table.loc[1.0, "energy_extrapolated"])
    assert "fewer than two distinct variances" in table.loc[1.0, "note"]


def test_the_figure_draws_each_family_or_says_there_is_none(tmp_path):
    out = [tmp_path / "zv.png", tmp_path / "zv.pdf"]
    plot_zero_variance(energies(), out)
    assert all(p.stat().st_size > 5000 for p in out)
    plot_zero_variance(energies(status="failed"), [tmp_path / "none.png"])
    assert (tmp_path / "none.png").stat().st_size > 1000
