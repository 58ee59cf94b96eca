# Thin: the joining lives in nqs_sweep.tables.aggregate.
import sys

import pandas as pd

from nqs_sweep.tables.aggregate import qgt_history_table, qgt_rank_table, spectra_table
from nqs_sweep.tables.columns import write_table

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
inp, out = snakemake.input, snakemake.output  # noqa: F821
spectra = spectra_table(inp.spectra)
write_table(spectra, out.spectra)
write_table(qgt_rank_table(spectra, pd.read_parquet(inp.energies)), out.ranks)
write_table(qgt_history_table(inp.histories, inp.exact), out.history)
