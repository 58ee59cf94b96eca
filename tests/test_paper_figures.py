"""The paper's figures (nqs_sweep.figures.paper_figures) and their manifests (nqs_sweep.figures.manifest), on
small synthetic tables: every figure is written, byte-identical when drawn twice, draws what
exists and marks what diverged. The whole set through Snakemake: tests/workflow/test_workflow_paper.py."""

import hashlib
import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from nqs_sweep.figures import manifest, paper_figures
from nqs_sweep.tables.columns import COUPLING_COLUMNS


def _row(**kw):
    row = {c: np.nan for c in COUPLING_COLUMNS}
    row.update(
        model="heisenberg", J=1.0, lattice="square", L=4, n_sites=16, sector="zero_magnetization", ansatz="rbm", alpha=1.0,
        layers=1, symmetries="none", dtype="float64", marshall_sign=True, seed=0, status="converged", device="cpu:cpu",
        git_revision="abc1234", runtime_s=1.0, v_score=0.1, sampler="metropolis", n_samples=128,
    )  # fmt: skip
    row.update(kw)
    row.setdefault("spec_hash", hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest()[:16])
    return row


def energies():
    rows = []
    for L, e0 in ((4, -44.9), (6, -97.8)):
        for alpha in (1.0, 2.0, 4.0):
            e = e0 * (1 - 1e-2 / alpha)
            rows.append(_row(L=L, n_sites=L * L, alpha=alpha, energy=e, energy_error=0.01, exact_energy=e0,
                             n_real_params=int(alpha * L**4)))  # fmt: skip
    for h in (0.5, 1.0):
        rows.append(_row(model="tfim", J=1.0, h=h, lattice="chain", L=20, n_sites=20, sector="full", marshall_sign=False,
                         energy=-21.0 * h, energy_error=1e-3, exact_energy=-21.0 * h - 1e-3, n_real_params=420))  # fmt: skip
    df = pd.DataFrame(rows)
    # the 6x6 network of alpha = 4 diverged: no energy, a status that says so
    lost = (df["L"] == 6) & (df["alpha"] == 4.0)
    df.loc[lost, ["energy", "energy_error"]] = np.nan
    df.loc[lost, "status"] = "diverged"
    df["rel_error"] = (df["energy"] - df["exact_energy"]).abs() / df["exact_energy"].abs()
    return df


def convergence(e):
    rows = []
    for _, r in e.iterrows():
        for it in range(30):
            tau = 2.0 if r["model"] == "tfim" else 0.1
            rows.append({**r.to_dict(), "iteration": it, "r_hat": 1.0 + 0.01 * np.sin(it), "tau_corr": tau,
                         "energy_error_naive": 0.01, "energy_error": 0.01 * np.sqrt(1 + 2 * tau),
                         "energy": np.inf if r["status"] == "diverged" and it > 20 else r["exact_energy"] * 0.99})  # fmt: skip
    return pd.DataFrame(rows)


def sign_energies():
    rows = []
    for j2 in (0.0, 0.5, 1.0):
        for rule in (True, False):
            e0 = -45.0 + 10 * j2
            rows.append(_row(model="j1j2", J1=1.0, J2=j2, marshall_sign=rule, dtype="complex128", energy=e0 * 0.98,
                             energy_error=0.05, exact_energy=e0 if j2 != 1.0 else np.nan, v_score=0.1 + j2))  # fmt: skip
    df = pd.DataFrame(rows)
    lost = (df["J2"] == 0.5) & ~df["marshall_sign"]
    df.loc[lost, ["energy", "energy_error"]] = np.nan
    df.loc[lost, "status"] = "diverged"
    df["rel_error"] = (df["energy"] - df["exact_energy"]).abs() / df["exact_energy"].abs()
    return df


def ansatz_energies():
    rows = []
    for ansatz, symmetries, layers, n in [("rbm", "none", 1, 300), ("rbm", "none", 1, 600), ("rbm_symm", "space_group", 1, 20),
                                          ("gcnn", "space_group", 2, 500), ("ffnn", "none", 2, 560)]:  # fmt: skip
        rows.append(_row(model="j1j2", J1=1.0, J2=0.5, ansatz=ansatz, symmetries=symmetries, layers=layers, n_real_params=n,
                         energy=-33.0, energy_error=0.05, exact_energy=-33.8))  # fmt: skip
    df = pd.DataFrame(rows)
    df.loc[1, ["energy", "energy_error"]] = np.nan
    df.loc[1, "status"] = "diverged"
    df["rel_error"] = (df["energy"] - df["exact_energy"]).abs() / df["exact_energy"].abs()
    return df


def dynamics():
    rows = []
    for alpha in (1.0, 2.0):
        for t in np.linspace(0, 1, 11):
            exact = 0.3 + 0.2 * np.sin(t)
            rows.append(_row(model="tfim", J=1.0, h=1.0, initial_h=0.5, lattice="chain", L=12, alpha=alpha, time=t,
                             observable="sx", value=exact + 1e-3 * t / alpha, error=1e-4, exact_value=exact,
                             abs_error=1e-3 * t / alpha, sampler="exact", integrator="rk4", regularization="pinv"))  # fmt: skip
    return pd.DataFrame(rows)


def renyi_ground_state():
    """S2 of the quench study's initial ground states (L = 6 chain) against block size."""
    rows = []
    for alpha in (1.0, 2.0):
        for size in range(1, 4):
            exact = 0.2 * np.log(1 + size)
            rows.append(_row(model="tfim", J=1.0, h=0.5, lattice="chain", L=6, alpha=alpha, measurement="renyi2",
                             argument=f"block 0-{size - 1}", x=float(size), value=exact + 0.01 / alpha, error=0.005,
                             exact=exact, flag=""))  # fmt: skip
    return pd.DataFrame(rows)


def renyi_growth():
    """S2(t) along the quench for blocks of 1 to 3 sites, with the sx rows of a dynamics table beside them."""
    rows = []
    for alpha in (1.0, 2.0):
        for t in np.linspace(0, 1, 11):
            for size in range(1, 4):
                exact = 0.1 * size * t
                rows.append(_row(model="tfim", J=1.0, h=1.0, lattice="chain", L=6, alpha=alpha, time=t, measurement="renyi2",
                                 observable=f"renyi2: block 0-{size - 1}", x=float(size), value=exact - 0.02 * t / alpha,
                                 error=0.01, exact_value=exact))  # fmt: skip
    return pd.concat([dynamics().assign(measurement=None), pd.DataFrame(rows)], ignore_index=True)


def volume_growth():
    """S2(t) of every block of a 6-site chain after a quench, for the RBM and two short-range RBMs,
    and the quenches table with their parameter counts; the range-1 one stopped at t = 0.8."""
    rows, quenches = [], []
    for ansatz, reach, alpha, n_params in (("rbm", 0, 1.0, 48), ("rbm_local", 1, 2.0, 42), ("rbm_local", 2, 1.0, 42)):
        row = _row(model="tfim", J=1.0, h=1.0, lattice="chain", L=6, alpha=alpha, ansatz=ansatz, range=reach)
        quenches.append({**row, "n_params": n_params, "status": "completed" if reach != 1 else "failed"})
        for t in np.linspace(0, 1 if reach != 1 else 0.8, 11 if reach != 1 else 9):
            for size in range(1, 4):
                exact = 0.5 * size * t
                value = exact if ansatz == "rbm" else min(exact, 4 * reach * np.log(2) / 3)
                rows.append({**row, "time": t, "measurement": "renyi2", "observable": f"renyi2: block 0-{size - 1}",
                             "x": float(size), "value": value, "error": 0.01, "exact_value": exact})  # fmt: skip
    return pd.concat([dynamics().assign(measurement=None), pd.DataFrame(rows)], ignore_index=True), pd.DataFrame(quenches)


def qgt_ranks():
    rows = []
    for alpha in (1.0, 2.0, 4.0):
        rows.append(_row(model="heisenberg", lattice="chain", L=10, n_real_params=int(10 + 10 * alpha + 100 * alpha),
                         hilbert_dim=252, source="exact", infidelity=1e-3 / alpha, energy=-18.0, exact_energy=-18.01,
                         rel_error=5e-4 / alpha, **{"rank_abs_1e-5": 50 * alpha, "rank_rel_1e-6": 60 * alpha,
                                                    "rank_rel_1e-10": 70 * alpha}))  # fmt: skip
    return pd.DataFrame(rows)


def tables_for(figure):
    e = energies()
    return {
        "accuracy_vs_width": {"energies": e},
        "ansatz_minima": {"energies": ansatz_energies()},
        "sign_problem": {"energies": sign_energies()},
        "qgt_rank": {"qgt_rank": qgt_ranks()},
        "quench_dynamics": {"dynamics": dynamics()},
        "sampling_health": {"convergence": convergence(e), "energies": e},
        "entanglement": {"measurements": renyi_ground_state(), "dynamics": renyi_growth()},
        "volume_law": dict(zip(("dynamics", "quenches"), volume_growth())),
    }[figure]


@pytest.mark.parametrize("figure", list(paper_figures.FIGURES))
def test_every_figure_is_drawn_reproducibly_with_its_table(tmp_path, figure):
    draw = paper_figures.FIGURES[figure]
    outs = [tmp_path / "a.png", tmp_path / "a.pdf"]
    drawn = draw(tables_for(figure), outs)
    assert len(drawn) > 0
    first = [o.read_bytes() for o in outs]
    assert all(len(b) > 5000 for b in first)
    draw(tables_for(figure), outs)
    assert [o.read_bytes() for o in outs] == first  # no dates, no versions in the files


@pytest.mark.parametrize("figure", list(paper_figures.FIGURES))
def test_empty_tables_give_a_figure_that_says_so(tmp_path, figure):
    empty = {name: pd.DataFrame(columns=list(t.columns)) for name, t in tables_for(figure).items()}
    out = tmp_path / "empty.png"
    paper_figures.FIGURES[figure](empty, [out])
    assert out.stat().st_size > 0


def _capture(monkeypatch):
    figs = []
    monkeypatch.setattr(paper_figures, "save_figure", lambda fig, outputs: figs.append(fig))
    return figs


@pytest.mark.parametrize(
    "figure, x", [("accuracy_vs_width", "alpha"), ("ansatz_minima", "n_real_params"), ("sign_problem", "J2")]
)
def test_a_diverged_point_is_marked_and_kept_in_the_table(monkeypatch, figure, x):
    figs = _capture(monkeypatch)
    tables = tables_for(figure)
    drawn = paper_figures.FIGURES[figure](tables, [])
    lost = tables["energies"][tables["energies"]["status"] == "diverged"]
    assert set(drawn.loc[drawn["status"] == "diverged", "spec_hash"]) == set(lost["spec_hash"])
    marks = [line for ax in figs[0].axes for line in ax.get_lines() if line.get_label() == "diverged"]
    assert sorted(float(v) for m in marks for v in m.get_xdata()) == sorted(lost[x].astype(float))


def test_relative_errors_are_drawn_where_a_reference_exists(monkeypatch):
    figs = _capture(monkeypatch)
    tables = tables_for("sign_problem")
    paper_figures.sign_problem(tables, [])
    err_ax, v_ax = figs[0].axes[:2]
    finished = tables["energies"]["energy"].notna()
    n_ref = (tables["energies"]["exact_energy"].notna() & finished).sum()
    n_all = finished.sum()
    drawn_err = sum(len(c.lines[0].get_xdata()) for c in err_ax.containers)  # errorbar containers
    drawn_v = sum(len(line.get_xdata()) for line in v_ax.get_lines())
    assert 0 < n_ref < n_all
    assert (drawn_err, drawn_v) == (n_ref, n_all)  # the V-score needs no reference


def test_sampling_health_leaves_out_runs_that_diverged():
    tables = tables_for("sampling_health")
    drawn = paper_figures.sampling_health(tables, [])
    diverged = set(tables["energies"].loc[tables["energies"]["status"] == "diverged", "spec_hash"])
    assert diverged and not diverged & set(drawn["spec_hash"])
    assert np.isfinite(drawn["energy"]).all()
    # one run per case: the widest finished network at the largest size
    assert drawn.groupby("case")["spec_hash"].nunique().eq(1).all()
    heis = drawn[drawn["model"] == "heisenberg"]
    assert set(heis["L"]) == {6} and set(heis["alpha"]) == {2.0}  # alpha 4 diverged there
    assert np.allclose(drawn["error_inflation"], np.sqrt(1 + 2 * drawn["tau_corr"]))


def test_manifest_names_the_points_inputs_and_code(tmp_path):
    e = energies()
    table = tmp_path / "energies.parquet"
    e.to_parquet(table)
    png = tmp_path / "f.png"
    paper_figures.accuracy_vs_width({"energies": e}, [png])
    m = manifest.figure_manifest("accuracy_vs_width", "test", {"energies": table}, [png], e, 0.5, "tiny")
    json.dumps(m)  # serialisable as written by the workflow
    assert m["points"]["n_runs"] == len(e)
    assert {r["spec_hash"] for r in m["points"]["runs"]} == set(e["spec_hash"])
    assert m["points"]["status"] == {"converged": len(e) - 1, "diverged": 1}
    assert m["points"]["devices"] == {"cpu:cpu": len(e)}
    assert m["points"]["runtime_s_total"] == pytest.approx(e["runtime_s"].sum())
    assert m["inputs"]["energies"]["sha256"] == hashlib.sha256(table.read_bytes()).hexdigest()
    assert m["outputs"]["f.png"] == hashlib.sha256(png.read_bytes()).hexdigest()
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=manifest.__file__.rsplit("/", 1)[0])
    if head.returncode == 0:
        assert m["drawing"]["git"]["revision"] == head.stdout.strip()
    assert m["drawing"]["packages"]["jax"] != "not installed"


def test_entanglement_draws_the_ground_state_blocks_and_the_largest_block_over_time(monkeypatch):
    figs = _capture(monkeypatch)
    tables = tables_for("entanglement")
    drawn = paper_figures.entanglement(tables, [])
    ground, quench = drawn[drawn["panel"] == "ground_state"], drawn[drawn["panel"] == "quench"]
    assert len(ground) == len(tables["measurements"])  # every block of every width
    assert set(quench["x"]) == {3.0} and len(quench) == 2 * 11  # the largest block, each width, each time
    ax_g, ax_t, ax_e = figs[0].axes
    exact_g = [line for line in ax_g.get_lines() if line.get_label() == "exact ground state"]
    assert len(exact_g) == 1 and list(exact_g[0].get_ydata()) == pytest.approx([0.2 * np.log(1 + k) for k in (1, 2, 3)])
    # the error panel draws |S2 - exact| = 0.02 t / alpha of each width
    for line, alpha in zip(ax_e.get_lines(), (1.0, 2.0)):
        t = np.asarray(line.get_xdata())
        assert np.asarray(line.get_ydata())[1:] == pytest.approx(0.02 * t[1:] / alpha)


def test_volume_law_draws_each_network_with_its_parameters_and_the_area_law_bounds(monkeypatch):
    figs = _capture(monkeypatch)
    dynamics, quenches = volume_growth()
    drawn = paper_figures.volume_law({"dynamics": dynamics, "quenches": quenches}, [])
    ax_t, ax_a = figs[0].axes
    labels = {line.get_label() for line in ax_t.get_lines()}
    assert {"rbm α=1, 48 params", "rbm_local R=1 α=2, 42 params", "rbm_local R=2 α=1, 42 params", "exact"} <= labels
    growth, blocks = drawn[drawn["panel"] == "time"], drawn[drawn["panel"] == "blocks"]
    assert set(growth["x"]) == {3.0} and len(growth) == 11 + 9 + 11  # the largest block of each network, each time
    # the block panel is drawn where the exact S2 of the largest block peaks among the times every
    # network reached: the exact S2 grows to t = 1, but the failed network stopped at 0.8
    assert np.allclose(blocks["time"], 0.8) and len(blocks) == 3 * 3
    # the bounds: 4R ln 2 for the short-range networks only, a dotted line each on both panels
    bounds = drawn.groupby("ansatz")["area_law_bound"].first()
    assert np.isnan(bounds["rbm"]) and list(drawn.loc[drawn["range"] == 2, "area_law_bound"].unique()) == [8 * np.log(2)]
    for ax in (ax_t, ax_a):
        dotted = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == ":"}
        assert dotted == {"area-law bound 4R ln 2, R=1": 4 * np.log(2), "area-law bound 4R ln 2, R=2": 8 * np.log(2)}


def test_volume_law_blocks_are_drawn_at_the_exact_peak():
    dynamics, quenches = volume_growth()
    ok = quenches["range"] != 1
    exact = 0.5 * 3 * np.sin(np.pi * dynamics["time"].fillna(0) / 1.2)  # the largest block's S2 peaks at t = 0.6
    dynamics.loc[dynamics["x"] == 3.0, "exact_value"] = exact[dynamics["x"] == 3.0]
    keep = dynamics["spec_hash"].isin(quenches.loc[ok, "spec_hash"]) | dynamics["measurement"].isna()
    drawn = paper_figures.volume_law({"dynamics": dynamics[keep], "quenches": quenches[ok]}, [])
    assert np.allclose(drawn.loc[drawn["panel"] == "blocks", "time"], 0.6)
