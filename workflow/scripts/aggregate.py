# Thin: the joining lives in nqs_sweep.tables.aggregate.
import sys

from nqs_sweep.tables.aggregate import convergence_table, energies_table, readable_energies, with_variants
from nqs_sweep.tables.columns import write_table
from nqs_sweep.tables.ensembles import seed_ensembles
from nqs_sweep.tables.extrapolation import zero_variance_extrapolation

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, out, variants = snakemake.input, snakemake.output, snakemake.params.variants  # noqa: F821
energies = with_variants(energies_table(inp.summaries, inp.exacts), variants)
write_table(energies, out.energies)
readable_energies(energies).to_csv(out.energies_tsv, sep="\t", index=False, float_format="%.10g")
write_table(seed_ensembles(energies), out.seed_ensembles)
write_table(zero_variance_extrapolation(energies), out.zero_variance)
write_table(with_variants(convergence_table(inp.histories, inp.exacts), variants), out.convergence)
counts = energies["status"].value_counts().to_dict() if len(energies) else {}
print(f"{len(energies)} points: {counts}", file=sys.stderr)
