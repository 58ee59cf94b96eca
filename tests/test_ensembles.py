"""Seed ensembles (nqs_sweep.tables.ensembles): points equal but for their seed, as one row of mean,
spread and best of N; and the figures that draw that spread."""

import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from nqs_sweep.figures import plots
from nqs_sweep.spec import parse_spec
from nqs_sweep.tables.columns import COUPLING_COLUMNS, coordinates
from nqs_sweep.tables.ensembles import POINT_COORDINATES, STATISTICS, seed_ensembles

EXACT = -12.5


def point(seed, energy, alpha=1.0, status="converged", exact=EXACT, L=8, h=1.0):
    row = {"study": "s", "model": "tfim", "lattice": "chain", "L": L, "pbc": True, "n_sites": L, "sector": "full",
           "ansatz": "rbm", "alpha": alpha, "seed": seed, "spec_hash": f"a{alpha}-s{seed}-L{L}-h{h}", "variant": "",
           "energy": energy, "energy_error": 0.01 * (seed + 1), "energy_per_site": energy / L, "exact_energy": exact,
           "exact_energy_per_site": exact / L, "n_params": int(alpha * L * L), "status": status}  # fmt: skip
    row.update({c: np.nan for c in COUPLING_COLUMNS})
    row.update(J=1.0, h=h)
    row["rel_error"] = abs(energy - exact) / abs(exact) if np.isfinite(energy) and np.isfinite(exact) else np.nan
    return row


def frame(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def test_mean_std_and_best_of_n_of_three_seeds():
    df = seed_ensembles(frame(point(0, -10.0), point(1, -11.0), point(2, -12.0)))
    assert len(df) == 1
    row = df.iloc[0]
    assert (row["n_seeds"], row["n_failed"], row["seeds"]) == (3, 0, "0,1,2")
    assert row["energy_mean"] == -11.0 and row["energy_std"] == 1.0  # ddof = 1
    assert (row["energy_min"], row["energy_max"]) == (-12.0, -10.0)
    assert row["best_seed"] == 2 and row["best_spec_hash"] == "a1.0-s2-L8-h1.0" and row["best_energy_error"] == 0.03
    assert row["energy_error_mean"] == pytest.approx(0.02)
    rel = np.array([2.5, 1.5, 0.5]) / 12.5
    assert row["rel_error_mean"] == pytest.approx(rel.mean(), rel=1e-14)
    assert row["rel_error_std"] == pytest.approx(rel.std(ddof=1), rel=1e-14)
    assert (row["rel_error_min"], row["rel_error_max"]) == (rel.min(), rel.max())
    assert row["exact_energy"] == EXACT and row["n_params"] == 64


def test_failed_and_diverged_seeds_are_counted_but_left_out_of_the_statistics():
    df = seed_ensembles(
        frame(point(0, -10.0), point(1, np.nan, status="failed"), point(2, -12.0), point(3, np.nan, status="diverged"))
    )
    row = df.iloc[0]
    assert (row["n_seeds"], row["n_failed"], row["seeds"]) == (4, 2, "0,1,2,3")
    assert row["energy_mean"] == -11.0 and row["energy_std"] == pytest.approx(np.sqrt(2.0))
    assert row["best_seed"] == 2


def test_a_group_of_one_seed_has_no_spread_and_a_group_of_failed_seeds_no_statistics():
    df = seed_ensembles(frame(point(0, -10.0, alpha=1.0), point(0, np.nan, alpha=2.0, status="failed")))
    one, lost = df.set_index("alpha").loc[1.0], df.set_index("alpha").loc[2.0]
    assert one["n_seeds"] == 1 and one["energy_mean"] == -10.0 == one["energy_min"] and one["best_seed"] == 0
    assert np.isnan(one["energy_std"]) and np.isnan(one["rel_error_std"])
    assert (lost["n_seeds"], lost["n_failed"]) == (1, 1)
    assert np.isnan(lost["energy_mean"]) and pd.isna(lost["best_seed"]) and np.isnan(lost["rel_error_mean"])


def test_points_that_differ_in_any_coordinate_but_the_seed_are_separate_ensembles():
    rows = [point(s, -10.0 - s, alpha=a, L=L) for a in (1.0, 2.0) for L in (8, 10) for s in (0, 1)]
    rows += [point(0, -9.0, alpha=1.0), point(1, -9.5, alpha=1.0)]
    rows[-2]["variant"] = rows[-1]["variant"] = "optimizer_learning_rate~0.02"
    df = seed_ensembles(frame(*rows))
    assert len(df) == 5 and (df["n_seeds"] == 2).all()  # absent couplings (NaN) group together
    assert set(df["variant"]) == {"", "optimizer_learning_rate~0.02"}
    assert list(df.columns[-len(STATISTICS) :]) == STATISTICS


def test_without_a_reference_the_relative_error_statistics_are_nan():
    df = seed_ensembles(frame(point(0, -10.0, exact=np.nan), point(1, -11.0, exact=np.nan)))
    assert df["energy_mean"].iloc[0] == -10.5
    assert df[["rel_error_mean", "rel_error_std", "rel_error_min", "rel_error_max"]].isna().all(axis=None)


def test_an_empty_table_gives_an_empty_table_with_the_columns():
    df = seed_ensembles(pd.DataFrame())
    assert df.empty and set(STATISTICS) <= set(df.columns)


def test_the_grouping_columns_are_the_coordinates_of_a_point(tmp_path, monkeypatch):
    """Every coordinate a point table carries, but seed, spec hash and couplings, is listed;
    a new coordinate that is not would merge points that differ in it."""
    spec = parse_spec({"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 6}, "ansatz": {"name": "rbm"}})
    builtin = set(coordinates(spec)) - {"seed", "spec_hash", *COUPLING_COLUMNS}
    shutil.copy(Path(__file__).parent / "plugins" / "tiny_flax.py", tmp_path / "my_nets.py")
    monkeypatch.chdir(tmp_path)
    plugin = parse_spec(
        {"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 6}, "ansatz": {"module": "my_nets.py:TinyRBM"}}
    )
    builtin |= set(coordinates(plugin)) - {"seed", "spec_hash", *COUPLING_COLUMNS}
    assert builtin | {"variant"} == set(POINT_COORDINATES)


# Figures: a spread where a point has several seeds, none where each has one.


@pytest.fixture
def drawn(monkeypatch):
    """The figures a plotting function draws, kept open instead of saved."""
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, outputs: figures.append(fig))
    yield figures
    for fig in figures:
        plt.close(fig)


def sweep(seeds) -> pd.DataFrame:
    """Two widths at two fields, each with the given seeds; seed s lands s/100 above the exact energy."""
    rows = [point(s, EXACT * (1 - (s + 1) / (100 * a)), alpha=a, h=h) for a in (1.0, 2.0) for h in (0.5, 1.0) for s in seeds]
    return frame(*rows)


def bands(fig) -> list:
    return [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)]


def labels(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_error_vs_width_draws_a_min_max_band_over_seeds_and_says_so(drawn):
    plots.plot_error_vs_width(sweep([0, 1, 2]), ["unused.png"])
    (fig,) = drawn
    assert len(bands(fig)) == 4  # a line per (coupling, abscissa) panel, one size, one network
    assert "L=8 rbm, mean of 3 seeds, band: min–max" in labels(fig)
    line = fig.axes[0].containers[0].lines[0]  # the errorbar's data line
    np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), [0.02, 0.01])  # mean over seeds 0, 1, 2 at α = 1, 2
    band = bands(fig)[0].get_paths()[0].vertices
    np.testing.assert_allclose([band[:, 1].min(), band[:, 1].max()], [0.005, 0.03])  # min at α = 2, max at α = 1


def test_error_vs_width_with_one_seed_per_point_draws_no_band(drawn):
    plots.plot_error_vs_width(sweep([0]), ["unused.png"])
    (fig,) = drawn
    assert bands(fig) == [] and "L=8 rbm" in labels(fig)


def test_energy_vs_coupling_bars_span_the_seeds_and_say_so(drawn):
    plots.plot_energy_vs_coupling(sweep([0, 1, 2]), ["unused.png"])
    (fig,) = drawn
    ax = fig.axes[0]
    assert "VMC L=8 α=1, mean of 3 seeds, bars: min–max" in labels(fig)
    container = next(c for c in ax.containers if c.get_label().startswith("VMC L=8 α=1"))
    segments = container.lines[2][0].get_segments()
    assert len(segments) == 2  # one marker per field, not one per seed
    e = EXACT / 8
    for seg in segments:
        np.testing.assert_allclose(sorted(seg[:, 1]), [e * 0.99, e * 0.97])  # seeds 2 and 0 at α = 1


def test_energy_vs_coupling_with_one_seed_keeps_the_monte_carlo_bars(drawn):
    plots.plot_energy_vs_coupling(sweep([0]), ["unused.png"])
    (fig,) = drawn
    container = next(c for c in fig.axes[0].containers if c.get_label() == "VMC L=8 α=1")
    seg = container.lines[2][0].get_segments()[0]
    np.testing.assert_allclose(np.ptp(seg[:, 1]), 2 * 0.01 / 8)
    assert not any("seeds" in label for label in labels(fig))


def qgt_ranks(seeds) -> pd.DataFrame:
    e = sweep(seeds)
    e = e[e["h"] == 1.0].assign(hilbert_dim=70, n_real_params=e["n_params"], source="exact", infidelity=1e-4)
    return e.assign(**{"rank_abs_1e-5": 6 + e["seed"], "rank_rel_1e-6": 7 + e["seed"], "rank_rel_1e-10": 10})


def test_qgt_rank_draws_bands_over_seeds_and_names_the_statistic_on_its_axes(drawn):
    plots.plot_qgt_rank(qgt_ranks([0, 1, 2]), ["unused.png"])
    (fig,) = drawn
    assert len(bands(fig)) > 0
    assert all("mean of 3 seeds, band: min–max" in ax.get_ylabel() for ax in fig.axes)
    drawn.clear()
    plt.close(fig)
    plots.plot_qgt_rank(qgt_ranks([0]), ["unused.png"])
    (fig,) = drawn
    assert bands(fig) == [] and not any("seeds" in ax.get_ylabel() for ax in fig.axes)


def test_figures_of_one_seed_among_several_say_which_seed(drawn):
    ranks = qgt_ranks([0, 1])
    spectra = ranks.loc[ranks.index.repeat(3)].assign(index=lambda d: d.groupby(level=0).cumcount(), eigenvalue=1e-3)
    plots.plot_spectra(spectra, ["unused.png"])
    history = pd.concat([ranks.assign(iteration=it) for it in (0, 10)])
    plots.plot_qgt_history(history, ["unused.png"])
    assert all(ax.get_title().endswith(", seed 0 of 2") for fig in drawn for ax in fig.axes if ax.get_title())
