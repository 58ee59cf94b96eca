# Thin: the joining lives in nqs_sweep.tables.aggregate.
import sys

from nqs_sweep.tables.aggregate import convergence_table, energies_table
from nqs_sweep.tables.columns import write_table

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821
energies = energies_table(inp.summaries, inp.exacts)
write_table(energies, out.energies)
write_table(convergence_table(inp.histories, inp.exacts), out.convergence)
counts = energies["status"].value_counts().to_dict() if len(energies) else {}
print(f"{len(energies)} points: {counts}", file=sys.stderr)
