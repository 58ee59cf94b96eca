# Thin: the drawing lives in nqs_sweep.figures.paper_figures, the manifest in nqs_sweep.figures.manifest.
import json
import sys
import time

import pandas as pd

from nqs_sweep.figures.manifest import figure_manifest
from nqs_sweep.figures.paper_figures import FIGURES
from nqs_sweep.tables.columns import write_table

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
figure = snakemake.wildcards.figure  # noqa: F821

start = time.perf_counter()
tables = {name: pd.read_parquet(inp[name]) for name in params.tables}
drawn = FIGURES[figure](tables, [out.png, out.pdf])
write_table(drawn, out.table)
runs = pd.concat([pd.read_parquet(p) for name, p in inp.items() if name.startswith("runs_")], ignore_index=True)
manifest = figure_manifest(
    figure,
    params.description,
    dict(inp.items()),
    [out.png, out.pdf, out.table],
    runs,
    time.perf_counter() - start,
    params.scale,
)
with open(out.manifest, "w") as f:
    json.dump(manifest, f, indent=1, sort_keys=False, default=str)
print(f"{figure}: {len(drawn)} rows drawn from {len(runs)} runs", file=sys.stderr)
