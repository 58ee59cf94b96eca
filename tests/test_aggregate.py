"""Joining point tables with exact references."""

import numpy as np
import pandas as pd

from nqs_sweep.tables.aggregate import convergence_table, energies_table
from nqs_sweep.tables.columns import COUPLING_COLUMNS


def coords(model, L, **couplings):
    row = {"model": model, "lattice": "chain", "L": L, "pbc": True, "n_sites": L, "sector": "full"}
    row.update({c: couplings.get(c, np.nan) for c in COUPLING_COLUMNS})
    return row


def test_exact_energies_join_on_model_couplings_and_lattice_including_absent_couplings(tmp_path):
    pd.DataFrame(
        [
            {**coords("tfim", 8, J=1.0, h=1.0), "energy": -10.1, "status": "converged"},
            {**coords("tfim", 8, J=1.0, h=2.0), "energy": -17.0, "status": "converged"},
            {**coords("tfim", 12, J=1.0, h=1.0), "energy": np.nan, "status": "failed"},
        ]
    ).to_parquet(tmp_path / "s.parquet")
    pd.DataFrame([{**coords("tfim", 8, J=1.0, h=1.0), "exact_energy": -10.2}]).to_parquet(tmp_path / "e1.parquet")
    pd.DataFrame([{**coords("heisenberg", 8, J=1.0), "exact_energy": -14.0}]).to_parquet(tmp_path / "e2.parquet")
    df = energies_table([tmp_path / "s.parquet"], [tmp_path / "e1.parquet", tmp_path / "e2.parquet"])
    assert df["exact_energy"].iloc[0] == -10.2
    assert df["rel_error"].iloc[0] == abs(-10.1 + 10.2) / 10.2
    assert np.isnan(df["exact_energy"].iloc[1])  # h=2 has no reference
    assert df["status"].iloc[2] == "failed" and np.isnan(df["rel_error"].iloc[2])
    assert df["exact_energy_per_site"].iloc[0] == -10.2 / 8


def test_a_lanczos_step_gets_its_relative_error_from_the_same_reference(tmp_path):
    pd.DataFrame(
        [
            {**coords("tfim", 8, J=1.0, h=1.0), "energy": -10.1, "energy_lanczos": -10.15, "status": "converged"},
            {**coords("tfim", 8, J=1.0, h=2.0), "energy": -17.0, "energy_lanczos": np.nan, "status": "converged"},
        ]
    ).to_parquet(tmp_path / "s.parquet")
    pd.DataFrame([{**coords("tfim", 8, J=1.0, h=1.0), "exact_energy": -10.2}]).to_parquet(tmp_path / "e.parquet")
    df = energies_table([tmp_path / "s.parquet"], [tmp_path / "e.parquet"])
    assert df["rel_error_lanczos"].iloc[0] == abs(-10.15 + 10.2) / 10.2
    assert np.isnan(df["rel_error_lanczos"].iloc[1])


def test_published_and_computed_references_join_with_their_method_and_error(tmp_path):
    """A study's published.parquet (written by the workflow from `published:`) joins like a
    Lanczos table, absent couplings (NaN) included, and says what the reference is."""
    pd.DataFrame(
        [
            {**coords("heisenberg", 36, J=1.0), "sector": "zero_magnetization", "energy": -97.0},
            {**coords("tfim", 80, J=1.0, h=1.0), "energy": -101.8},
        ]
    ).to_parquet(tmp_path / "s.parquet")
    published = {**coords("heisenberg", 36, J=1.0), "sector": "zero_magnetization", "exact_energy": -97.76}
    published.update(exact_energy_error=0.001, method="published", source="a paper")
    pd.DataFrame([published]).to_parquet(tmp_path / "published.parquet")
    pd.DataFrame([{**coords("tfim", 80, J=1.0, h=1.0), "exact_energy": -101.87, "method": "free_fermions"}]).to_parquet(
        tmp_path / "e.parquet"
    )
    df = energies_table([tmp_path / "s.parquet"], [tmp_path / "e.parquet", tmp_path / "published.parquet"])
    assert list(df["exact_energy"]) == [-97.76, -101.87]
    assert list(df["reference_method"]) == ["published", "free_fermions"]
    assert list(df["exact_energy_error"]) == [0.001, 0.0]
    assert df["rel_error"].iloc[0] == abs(-97.0 + 97.76) / 97.76


def test_convergence_rows_get_the_relative_error_per_iteration(tmp_path):
    pd.DataFrame([{**coords("tfim", 8, J=1.0, h=1.0), "iteration": i, "energy": -10.0 - 0.1 * i} for i in range(3)]).to_parquet(
        tmp_path / "h.parquet"
    )
    pd.DataFrame([{**coords("tfim", 8, J=1.0, h=1.0), "exact_energy": -10.2}]).to_parquet(tmp_path / "e.parquet")
    df = convergence_table([tmp_path / "h.parquet"], [tmp_path / "e.parquet"])
    np.testing.assert_allclose(df["rel_error"], [0.2 / 10.2, 0.1 / 10.2, 0.0], atol=1e-15)
    assert energies_table([], []).empty


def test_qgt_rank_table_has_one_row_per_point_with_its_energy_error():
    from nqs_sweep.tables.aggregate import qgt_rank_table

    spectra = pd.DataFrame(
        [
            {"spec_hash": h, "index": k, "eigenvalue": 1.0 / (k + 1), "rank_rel_1e-10": 3, "source": "exact"}
            for h in "ab"
            for k in range(3)
        ]
    )
    energies = pd.DataFrame({"spec_hash": ["a", "b"], "energy": [-1.0, -2.0], "rel_error": [1e-3, 1e-4]})
    df = qgt_rank_table(spectra, energies)
    assert list(df["spec_hash"]) == ["a", "b"] and list(df["rel_error"]) == [1e-3, 1e-4]
    assert "eigenvalue" not in df and df.columns[-1] == "rank_rel_1e-10"


def test_qgt_history_has_one_row_per_point_and_iteration_with_its_relative_error(tmp_path):
    from nqs_sweep.tables.aggregate import qgt_history_table

    rows = [
        {**coords("tfim", 8, J=1.0, h=1.0), "spec_hash": "a", "iteration": it, "index": k, "eigenvalue": 1.0 / (k + 1),
         "energy": -10.0 - 0.1 * it, "rank_rel_1e-6": 2 + it, "infidelity": 0.1 / (1 + it), "source": "exact"}
        for it in (0, 1, 2)
        for k in range(3)
    ]  # fmt: skip
    pd.DataFrame(rows).to_parquet(tmp_path / "h.parquet")
    pd.DataFrame([{**coords("tfim", 8, J=1.0, h=1.0), "exact_energy": -10.2}]).to_parquet(tmp_path / "e.parquet")
    df = qgt_history_table([tmp_path / "h.parquet"], [tmp_path / "e.parquet"])
    assert list(df["iteration"]) == [0, 1, 2] and list(df["rank_rel_1e-6"]) == [2, 3, 4]
    np.testing.assert_allclose(df["rel_error"], [0.2 / 10.2, 0.1 / 10.2, 0.0], atol=1e-15)
    assert "eigenvalue" not in df and df["parametrization"].eq("direct").all()  # a table from before the column


def test_tables_from_before_the_parametrization_column_read_as_direct(tmp_path):
    old = {**coords("tfim", 8, J=1.0, h=1.0), "spec_hash": "a", "energy": -10.1}
    new = {**coords("tfim", 8, J=1.0, h=1.0), "spec_hash": "b", "energy": -10.15, "parametrization": "amplitude_phase"}
    pd.DataFrame([old]).to_parquet(tmp_path / "old.parquet")
    pd.DataFrame([new]).to_parquet(tmp_path / "new.parquet")
    df = energies_table([tmp_path / "old.parquet", tmp_path / "new.parquet"], [])
    assert list(df["parametrization"]) == ["direct", "amplitude_phase"]


def test_references_join_on_the_symmetry_sector_and_earlier_tables_are_in_none(tmp_path):
    """Two points of one system in different sectors take their own sector's reference; tables
    written before the symmetry column existed (neither side has it) join as sector 'none'."""
    h = coords("heisenberg", 6, J=1.0)
    pd.DataFrame(
        [
            {**h, "symmetry": "k=(π) even flip=-1", "energy": -11.2},
            {**h, "symmetry": "k=(0)", "energy": -8.4},
            {**h, "symmetry": "none", "energy": -11.1},
        ]
    ).to_parquet(tmp_path / "s.parquet")
    pd.DataFrame(
        [
            {**h, "symmetry": "k=(π) even flip=-1", "exact_energy": -11.2111, "method": "lanczos_sector"},
            {**h, "symmetry": "k=(0)", "exact_energy": -8.4721, "method": "lanczos_sector"},
        ]
    ).to_parquet(tmp_path / "e1.parquet")
    pd.DataFrame([{**h, "exact_energy": -11.2111, "method": "lanczos"}]).to_parquet(tmp_path / "e2.parquet")  # no column
    df = energies_table([tmp_path / "s.parquet"], [tmp_path / "e1.parquet", tmp_path / "e2.parquet"])
    assert list(df["exact_energy"]) == [-11.2111, -8.4721, -11.2111]
    assert list(df["reference_method"]) == ["lanczos_sector", "lanczos_sector", "lanczos"]
    old = pd.DataFrame([{**h, "energy": -11.1}])  # a point table from before the column
    old.to_parquet(tmp_path / "old.parquet")
    joined = energies_table([tmp_path / "old.parquet"], [tmp_path / "e2.parquet"])
    assert joined["exact_energy"].iloc[0] == -11.2111 and joined["symmetry"].iloc[0] == "none"


def test_the_readable_energies_keep_the_main_columns_sorted_by_coordinates():
    from nqs_sweep.tables.aggregate import readable_energies

    coupling = COUPLING_COLUMNS[0]
    unused = COUPLING_COLUMNS[1]
    df = pd.DataFrame(
        {
            "model": ["tfim"] * 3, coupling: [2.0, 1.0, 1.0], unused: [np.nan] * 3, "lattice": ["chain"] * 3,
            "L": [8, 8, 6], "ansatz": ["rbm"] * 3, "alpha": [1.0] * 3, "seed": [0] * 3, "variant": [""] * 3,
            "energy": [-10.0, -9.0, -7.0], "energy_error": [1e-3] * 3, "status": ["converged"] * 3,
            "spec_hash": ["a", "b", "c"], "runtime_s": [1.0] * 3,
        }
    )  # fmt: skip
    out = readable_energies(df)
    # no hash, no timing, no coupling that no point has, no variant column when no point has one
    assert list(out.columns) == ["model", coupling, "lattice", "L", "ansatz", "alpha", "seed", "energy", "energy_error", "status"]
    assert out[[coupling, "L"]].values.tolist() == [[1.0, 6], [1.0, 8], [2.0, 8]]
