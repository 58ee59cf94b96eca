"""The varbench table (Wu et al., Science 386, 296 (2024)): published variational energies joined
to every point whose system it lists.

The data are Markdown tables, one per Hamiltonian and lattice (``Heisenberg/square_36_P.md``,
``J1J2/square_16_P_0.5.md``, ``TFIsing/chain_32_P_1.md``), in this project's units (Pauli
matrices, totals, J = 1). A point's system maps to a file by model, lattice, size and boundary:

- heisenberg, and xxz at Δ = 1: ``Heisenberg/<lattice>_<N>_<P|O>``, energies scaled by J > 0;
- j1j2: ``J1J2/square_<N>_P_<J2/J1>``, scaled by J1 > 0;
- tfim: ``TFIsing/<lattice>_<N>_<P|O>_<|h|/J>``, scaled by J > 0. varbench writes
  H = Σ σᶻσᶻ + Γ Σ σˣ; on the bipartite lattices it lists, that spectrum equals ours
  (−J Σ σᶻσᶻ − h Σ σˣ) at h = Γ.

The rows of the files this mapping can reach (the chain and square lattices of the three
folders) are copied into the package, ``nqs_sweep/data/varbench.csv``, with the source's commit
and citation in its header; ``bundle`` writes it from a checkout of the data set, and a test
keeps it equal to ``../shared/varbench``. ``$NQS_VARBENCH`` points the lookup at another copy of
the Markdown files instead (a newer one). Each point gets the exact energy where the table has
one (exact diagonalisation), the lowest other energy with its method and error, its relative
distance to that best value, and per method family (``family``) the family's lowest energy and
that row's V-score, DOF·Var(E)/(E − E∞)².
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

# Method families, in the order a method's name is tested against them: a 1D MPS-RNN is a
# network, not a tensor network.
FAMILIES: dict[str, re.Pattern] = {
    "neural_network": re.compile(r"RBM|RNN|FFN|CNN|GCNN|ViT|transformer|neural|NQS|ResNet|autoregressive", re.I),
    "tensor_network": re.compile(r"DMRG|PEPS|MPS|TTN|tensor|Clebsch", re.I),
    "circuit": re.compile(r"VQE|circuit", re.I),
    "physical_ansatz": re.compile(r"Jastrow|VMC|BCS|fermion|Gutzwiller|spin liquid", re.I),
}
FAMILY_COLUMNS = tuple(f"varbench_{kind}_{family}" for family in FAMILIES for kind in ("best", "v_score"))
COLUMNS = ("varbench_exact", "varbench_best", "varbench_best_error", "varbench_best_method", "varbench_file", *FAMILY_COLUMNS)
EXACT_METHODS = re.compile(r"exact diagonali[sz]ation|exact solution", re.I)
ROW_COLUMNS = ["energy", "sigma", "variance", "dof", "einf", "method", "reference"]
BUNDLE = Path(__file__).resolve().parents[1] / "data" / "varbench.csv"
# The files ``file_for`` can name: the rest of the data set (kagome, pyrochlore, ...) is not copied.
BUNDLED_FILES = tuple(f"{d}/{lattice}_*.md" for d in ("Heisenberg", "J1J2", "TFIsing") for lattice in ("chain", "square"))


def family(method: str) -> str:
    """The method family of a varbench row: exact, neural_network, tensor_network, circuit,
    physical_ansatz (Jastrow, fermionic VMC, ...) or other."""
    if EXACT_METHODS.search(method):
        return "exact"
    return next((name for name, pattern in FAMILIES.items() if pattern.search(method)), "other")


def source_dir() -> Path | None:
    """A checkout of the data set's Markdown files: ``$NQS_VARBENCH``, else ``../shared/varbench``."""
    env = os.environ.get("NQS_VARBENCH")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[3].parent / "shared" / "varbench"
    return beside if beside.is_dir() else None


def varbench_dir() -> Path | None:
    """Where the lookup reads Markdown files: ``$NQS_VARBENCH`` only (None: the bundled rows)."""
    env = os.environ.get("NQS_VARBENCH")
    return Path(env) if env else None


def _number(text: str) -> float:
    """'-251.4404(8)' -> -251.4404; '' or '?' -> NaN."""
    match = re.match(r"\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)", text.replace(" ", ""))
    return float(match.group(1)) if match else float("nan")


@lru_cache(maxsize=256)
def read_markdown(path: Path) -> pd.DataFrame:
    """Every row of one varbench file: energy, sigma, variance, dof, einf, method, reference."""
    rows = []
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6 or cells[0] in ("Energy", "") or set(cells[0]) <= set("-: "):
            continue
        numbers = [_number(c) for c in cells[:5]]
        rows.append(dict(zip(ROW_COLUMNS, [*numbers, cells[5], cells[6] if len(cells) > 6 else ""])))
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


def bundle(root: Path, out: Path = BUNDLE) -> pd.DataFrame:
    """Copy the rows of BUNDLED_FILES from a checkout of the data set into ``out`` (CSV, a header of
    '#' lines with the source's commit and citation). Returns the rows."""
    names = sorted({str(f.relative_to(root)) for pattern in BUNDLED_FILES for f in root.glob(pattern)})
    frames = [read_markdown(root / name).assign(file=name) for name in names]
    rows = pd.concat(frames, ignore_index=True)[["file", *ROW_COLUMNS]]
    commit = (root / "COMMIT").read_text().strip() if (root / "COMMIT").is_file() else "unknown"
    header = (
        "# Rows of the varbench data set: Wu et al., Variational benchmarks for quantum many-body problems,\n"
        "# Science 386, 296 (2024), https://github.com/varbench/varbench (Apache-2.0), commit "
        f"{commit}.\n# The chain and square lattices of Heisenberg/, J1J2/ and TFIsing/, as the files list them;\n"
        "# written by nqs_sweep.tables.varbench.bundle. Units: Pauli matrices, J = 1, totals.\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + rows.to_csv(index=False))  # floats as their shortest round-trip text
    return rows


@lru_cache(maxsize=1)
def bundled_rows() -> pd.DataFrame:
    return pd.read_csv(BUNDLE, comment="#", keep_default_na=True).fillna({"method": "", "reference": ""})


def read_table(name: str, root: Path | None = None) -> pd.DataFrame | None:
    """The rows of one file (``J1J2/square_16_P_0.5.md``): from the Markdown under ``root`` when
    given, else from the bundle. None where there is no such file."""
    if root is not None:
        return read_markdown(root / name) if (root / name).is_file() else None
    rows = bundled_rows()
    rows = rows[rows["file"] == name]
    return rows.drop(columns="file").reset_index(drop=True) if len(rows) else None


def v_score(energy: float, variance: float, dof: float, einf: float = 0.0) -> float:
    """DOF·Var(E)/(E − E∞)², varbench's definition (upstream scripts/plot_v_score.py)."""
    return dof * variance / (energy - einf) ** 2


def _label(x: float) -> str:
    return f"{x:g}"


def file_for(row: pd.Series) -> tuple[str, float] | None:
    """(relative path of the varbench file, energy scale) for a point's system, or None."""
    model, lattice, L, pbc = row.get("model"), row.get("lattice"), row.get("L"), row.get("pbc")
    if lattice not in ("chain", "square") or pd.isna(L):
        return None
    n = int(L) if lattice == "chain" else int(L) ** 2
    bc = "P" if bool(pbc) else "O"
    if model == "heisenberg" or (model == "xxz" and row.get("Delta") == 1.0):
        J = row.get("J")
        return (f"Heisenberg/{lattice}_{n}_{bc}.md", float(J)) if J and J > 0 else None
    if model == "j1j2":
        J1, J2 = row.get("J1"), row.get("J2")
        if not J1 or J1 <= 0 or pd.isna(J2) or bc != "P":
            return None
        return f"J1J2/{lattice}_{n}_P_{_label(J2 / J1)}.md", float(J1)
    if model == "tfim":
        J, h = row.get("J"), row.get("h")
        if not J or J <= 0 or pd.isna(h):
            return None
        return f"TFIsing/{lattice}_{n}_{bc}_{_label(abs(h) / J)}.md", float(J)
    return None


def lookup(row: pd.Series, root: Path | None = None) -> dict:
    """The varbench columns for one point (NaN where the table has no such system). ``root``: a
    directory of the Markdown files to read instead of the bundle (default ``$NQS_VARBENCH``)."""
    out = dict.fromkeys(COLUMNS, np.nan)
    root = root if root is not None else varbench_dir()
    found = file_for(row)
    table = read_table(found[0], root) if found is not None else None
    if table is None:
        return out
    name, scale = found
    kind = table["method"].map(family)
    exact = table[kind == "exact"]
    others = table[(kind != "exact") & table["energy"].notna()]
    out["varbench_file"] = name
    if len(exact):
        out["varbench_exact"] = scale * float(exact["energy"].iloc[0])
    if len(others):
        best = others.loc[others["energy"].idxmin()]
        out["varbench_best"] = scale * float(best["energy"])
        out["varbench_best_error"] = scale * float(best["sigma"]) if best["sigma"] == best["sigma"] else np.nan
        out["varbench_best_method"] = best["method"]
    for fam in FAMILIES:
        rows = others[kind[others.index] == fam]
        if len(rows):
            best = rows.loc[rows["energy"].idxmin()]
            out[f"varbench_best_{fam}"] = scale * float(best["energy"])
            # scale-free: Var scales as J², (E − E∞)² too
            out[f"varbench_v_score_{fam}"] = v_score(best["energy"], best["variance"], best["dof"], best["einf"])
    return out


def rows_for(row: pd.Series, root: Path | None = None) -> pd.DataFrame:
    """Every non-exact row of a point's system, scaled to its couplings, with ``family``, ``v_score``
    and ``rel_error`` against the file's exact energy (NaN without one): the varbench chart's points."""
    found = file_for(row)
    root = root if root is not None else varbench_dir()
    table = read_table(found[0], root) if found is not None else None
    if table is None:
        return pd.DataFrame(columns=[*ROW_COLUMNS, "family", "v_score", "rel_error"])
    name, scale = found
    table = table.assign(family=table["method"].map(family))
    exact = table.loc[table["family"] == "exact", "energy"]
    e0 = float(exact.iloc[0]) if len(exact) else np.nan
    rows = table[(table["family"] != "exact") & table["energy"].notna()].copy()
    rows["v_score"] = v_score(rows["energy"], rows["variance"], rows["dof"], rows["einf"])
    rows["rel_error"] = (rows["energy"] - e0).abs() / abs(e0)
    rows["energy"] = scale * rows["energy"]
    rows["sigma"] = scale * rows["sigma"]
    rows["variance"] = scale**2 * rows["variance"]
    return rows.reset_index(drop=True)


def join(df: pd.DataFrame, root: Path | None = None) -> pd.DataFrame:
    """The point table with the varbench columns, and ``varbench_rel_to_best`` = (E − E_best)/|E_best|
    (negative: below the best published energy)."""
    if df.empty or "model" not in df:
        return df
    keys = [c for c in ("model", "J", "h", "Delta", "J1", "J2", "lattice", "L", "pbc") if c in df]
    found: dict[str, dict] = {}
    rows = []
    for _, r in df[keys].iterrows():
        key = "|".join("nan" if pd.isna(v) else repr(v) for v in r)  # NaN couplings match each other
        if key not in found:
            found[key] = lookup(r, root)
        rows.append(found[key])
    extra = pd.DataFrame(rows, index=df.index)
    out = pd.concat([df.drop(columns=[c for c in COLUMNS if c in df]), extra], axis=1)
    if "energy" in out:
        out["varbench_rel_to_best"] = (out["energy"] - out["varbench_best"]) / out["varbench_best"].abs()
    return out
