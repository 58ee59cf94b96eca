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

The directory is ``$NQS_VARBENCH``, else ``../shared/varbench`` beside the repository; without
it the columns are NaN. Each point gets the exact energy where the table has one (exact
diagonalisation), the lowest other energy with its method and error, and its own relative
distance to that best published value.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ("varbench_exact", "varbench_best", "varbench_best_error", "varbench_best_method", "varbench_file")
EXACT_METHODS = re.compile(r"exact diagonali[sz]ation", re.I)


def varbench_dir() -> Path | None:
    env = os.environ.get("NQS_VARBENCH")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[3].parent / "shared" / "varbench"
    return beside if beside.is_dir() else None


def _number(text: str) -> float:
    """'-251.4404(8)' -> -251.4404; '' or '?' -> NaN."""
    match = re.match(r"\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)", text.replace(" ", ""))
    return float(match.group(1)) if match else float("nan")


@lru_cache(maxsize=256)
def read_table(path: Path) -> pd.DataFrame:
    """Energy, Sigma, Method of every row of one varbench file."""
    rows = []
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6 or cells[0] in ("Energy", "") or set(cells[0]) <= set("-: "):
            continue
        rows.append({"energy": _number(cells[0]), "sigma": _number(cells[1]), "method": cells[5]})
    return pd.DataFrame(rows, columns=["energy", "sigma", "method"])


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
    """The varbench columns for one point (NaN where the table has no such system)."""
    out = dict.fromkeys(COLUMNS, np.nan)
    root = root if root is not None else varbench_dir()
    found = file_for(row) if root is not None else None
    if found is None or not (root / found[0]).is_file():
        return out
    name, scale = found
    table = read_table(root / name)
    exact = table[table["method"].str.contains(EXACT_METHODS)]
    others = table[~table["method"].str.contains(EXACT_METHODS) & table["energy"].notna()]
    out["varbench_file"] = name
    if len(exact):
        out["varbench_exact"] = scale * float(exact["energy"].iloc[0])
    if len(others):
        best = others.loc[others["energy"].idxmin()]
        out["varbench_best"] = scale * float(best["energy"])
        out["varbench_best_error"] = scale * float(best["sigma"]) if best["sigma"] == best["sigma"] else np.nan
        out["varbench_best_method"] = best["method"]
    return out


def join(df: pd.DataFrame, root: Path | None = None) -> pd.DataFrame:
    """The point table with the varbench columns, and ``varbench_rel_to_best`` = (E − E_best)/|E_best|
    (negative: below the best published energy)."""
    if df.empty or "model" not in df:
        return df
    root = root if root is not None else varbench_dir()
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
