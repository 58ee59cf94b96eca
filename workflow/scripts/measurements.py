# Thin: the join lives in nqs_sweep.tables.measurements.
import sys
from pathlib import Path

from nqs_sweep.tables.aggregate import with_variants
from nqs_sweep.tables.columns import write_table
from nqs_sweep.tables.measurements import measurements_table

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
params = snakemake.params  # noqa: F821
# results/<study>/, from the output's path (tables/measurements.parquet under it)
results = Path(snakemake.output[0]).parents[1]  # noqa: F821
df = measurements_table(results, params.references)
write_table(with_variants(df, params.variants), snakemake.output[0])  # noqa: F821
print(f"{len(df)} measurement rows from {len(params.references)} points", file=sys.stderr)
