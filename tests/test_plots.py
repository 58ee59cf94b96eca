"""Figures are drawn from whatever exists: empty tables, failed points, missing references."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nqs_sweep.figures import plots


def energies():
    rows = []
    for L in (6, 8):
        for alpha in (1.0, 2.0):
            for h in (0.5, 1.0):
                exact = -1.1 * L * (1 + h) if L == 6 else np.nan  # L=8 has no reference
                rows.append(
                    dict(model="tfim", lattice="chain", L=L, n_sites=L, alpha=alpha, ansatz="rbm", seed=0, h=h, J=1.0,
                         energy=-1.1 * L * (1 + h) * (1 - 1e-4 / alpha), energy_error=1e-3, exact_energy=exact,
                         exact_energy_per_site=exact / L, energy_per_site=-1.1 * (1 + h), n_params=int(alpha * L * L),
                         status="converged")
                )  # fmt: skip
    df = pd.DataFrame(rows)
    df["rel_error"] = (df["energy"] - df["exact_energy"]).abs() / df["exact_energy"].abs()
    df.loc[0, ["energy", "rel_error"]] = np.nan
    df.loc[0, "status"] = "failed"
    for c in ("Delta", "J1", "J2"):
        df[c] = np.nan
    return df


def test_every_figure_is_written_as_png_and_pdf(tmp_path):
    e = energies()
    conv = e.loc[e.index.repeat(5)].assign(iteration=lambda d: d.groupby(level=0).cumcount()).reset_index(drop=True)
    for name, fn, table in [
        ("convergence", plots.plot_convergence, conv),
        ("error_vs_width", plots.plot_error_vs_width, e),
        ("energy_vs_coupling", plots.plot_energy_vs_coupling, e),
    ]:
        outs = [tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"]
        fn(table, outs)
        assert all(o.stat().st_size > 1000 for o in outs), name


def test_empty_tables_give_a_figure_that_says_so(tmp_path):
    for fn in (
        plots.plot_convergence,
        plots.plot_error_vs_width,
        plots.plot_energy_vs_coupling,
        plots.plot_zero_variance,
        plots.plot_varbench,
    ):
        out = tmp_path / f"{fn.__name__}.png"
        fn(pd.DataFrame(columns=["exact_energy", "energy"]), [out])
        assert out.stat().st_size > 0


def test_the_swept_coupling_is_found():
    assert plots.sweep_coupling(energies()) == "h"


def test_qgt_figures_are_written(tmp_path):
    e = energies()
    spectra = []
    for i, row in e.iterrows():
        for k in range(10):
            spectra.append({**row.to_dict(), "spec_hash": f"h{i}", "index": k, "eigenvalue": 10.0**-k, "hilbert_dim": 64,
                            "n_real_params": int(row["n_params"]), "source": "exact", "infidelity": 1e-3,
                            "rank_abs_1e-5": 6, "rank_rel_1e-6": 7, "rank_rel_1e-10": 10})  # fmt: skip
    spectra = pd.DataFrame(spectra)
    ranks = spectra.groupby("spec_hash").first().reset_index()
    plots.plot_qgt_rank(ranks, [tmp_path / "r.png"])
    plots.plot_spectra(spectra, [tmp_path / "s.png"])
    assert (tmp_path / "r.png").stat().st_size > 1000 and (tmp_path / "s.png").stat().st_size > 1000
    history = pd.concat([ranks.assign(iteration=it, energy=ranks["energy"] * (1 - 0.1 / (1 + it))) for it in (0, 50, 100)])
    history["rel_error"] = (history["energy"] - history["exact_energy"]).abs() / history["exact_energy"].abs()
    plots.plot_qgt_history(history, [tmp_path / "h.png", tmp_path / "h.pdf"])
    assert (tmp_path / "h.png").stat().st_size > 1000 and (tmp_path / "h.pdf").stat().st_size > 1000
    plots.plot_qgt_history(pd.DataFrame(), [tmp_path / "empty.png"])  # says there is nothing yet
    assert (tmp_path / "empty.png").stat().st_size > 0


def test_networks_sharing_an_ansatz_name_are_named_apart():
    e = energies().assign(parametrization="direct", dtype="float64", marshall_sign=True)
    e.loc[1, "parametrization"] = "amplitude_phase"
    named = plots.named_networks(e)
    assert named.loc[1, "ansatz"] == "rbm amp/phase" and (named.drop(index=1)["ansatz"] == "rbm").all()
    e.loc[2, ["dtype", "marshall_sign"]] = ["complex128", False]
    assert plots.named_networks(e).loc[2, "ansatz"] == "rbm complex, no sign rule"
    e["symmetry"] = "none"
    e.loc[1, "symmetry"] = "k=(π) even flip=-1"  # networks in different sectors are drawn apart
    named = plots.named_networks(e)
    assert named.loc[1, "ansatz"].endswith(", k=(π) even flip=-1")
    assert named.loc[0, "ansatz"].endswith(", no sector")
    plain = energies()  # no variant columns: the table is returned as it is
    assert plots.named_networks(plain) is plain


def test_sampling_efficiency_figure_is_written(tmp_path):
    rows = []
    for ansatz, drawn in (("arnn", "direct"), ("arnn", "metropolis"), ("rbm", "metropolis")):
        tau = 0.0 if drawn == "direct" else 1.5
        rows.append(dict(model="tfim", lattice="chain", L=20, h=1.0, J=1.0, Delta=np.nan, J1=np.nan, J2=np.nan, ansatz=ansatz,
                         alpha=2.0, features="8,8", sampler="direct" if ansatz == "arnn" else "metropolis",
                         draw_sampler=drawn, tau_corr=tau,
                         effective_samples_per_s=1e5 / (1 + 2 * tau), device="cpu", status="converged"))  # fmt: skip
    failed = {**rows[-1], "ansatz": "ffnn", "status": "failed"}
    plots.plot_sampling_efficiency(pd.DataFrame([*rows, failed]), [tmp_path / "e.png", tmp_path / "e.pdf"])
    assert (tmp_path / "e.png").stat().st_size > 1000 and (tmp_path / "e.pdf").stat().st_size > 1000
    plots.plot_sampling_efficiency(pd.DataFrame(), [tmp_path / "empty.png"])
    assert (tmp_path / "empty.png").stat().st_size > 0


def test_dynamics_error_keeps_networks_of_the_same_width_apart(tmp_path, monkeypatch):
    rows = []
    for ansatz, scale in (("rbm", 3e-3), ("rbm_symm", 1e-3)):
        for alpha, sampler in ((2.0, "exact"), (4.0, "exact"), (2.0, "metropolis")):
            for t in np.linspace(0.0, 1.0, 11):
                err = scale * t / alpha
                case = dict(spec_hash=f"{ansatz}{alpha}{sampler}", model="tfim", L=12, integrator="rk4", n_samples=1024)
                case["sampler"] = sampler
                rows.append({**case, "ansatz": ansatz, "alpha": alpha, "time": t, "observable": "sx", "abs_error": err,
                             "value": 0.5 + err, "exact_value": 0.5})  # fmt: skip
    drawn = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, outputs: drawn.update(fig=fig))
    plots.plot_dynamics_error(pd.DataFrame(), pd.DataFrame(rows), [tmp_path / "e.png"])
    left, right = drawn["fig"].axes[:2]
    lines = {line.get_label(): line.get_ydata() for line in left.get_lines()}
    # two networks × two samplers × two times, never averaged together
    assert len(lines) == 8, list(lines)
    symm = [y for label, y in lines.items() if "rbm_symm, exact," in label and "t = 1·t_final" in label]
    np.testing.assert_allclose(symm[0], [1e-3 / 2, 1e-3 / 4])
    assert len(right.get_lines()) == 4  # Monte Carlo quenches: each network at two times
    plt.close(drawn["fig"])


def test_flagged_sampling_is_marked_in_the_width_figure(tmp_path, monkeypatch):
    e = energies().assign(health="")
    e.loc[1, "health"] = "r_hat=1.30"
    marked = []
    real_scatter = plots.plt.Axes.scatter
    monkeypatch.setattr(plots.plt.Axes, "scatter", lambda ax, *a, **k: marked.append(k.get("label")) or real_scatter(ax, *a, **k))
    out = [tmp_path / "w.png"]
    plots.plot_error_vs_width(e, out)
    assert out[0].exists() and "sampling flagged" in marked
