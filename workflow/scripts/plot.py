# Thin: the drawing lives in nqs_sweep.figures.plots.
import sys

import pandas as pd

from nqs_sweep.figures import measurement_plots, plots

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
draw = {
    "convergence": plots.plot_convergence,
    "error_vs_width": plots.plot_error_vs_width,
    "energy_vs_coupling": plots.plot_energy_vs_coupling,
    "qgt_rank": plots.plot_qgt_rank,
    "qgt_history": plots.plot_qgt_history,
    "spectra": plots.plot_spectra,
    "sampling_efficiency": plots.plot_sampling_efficiency,
    "measurements": measurement_plots.plot_measurements,
    "zero_variance": plots.plot_zero_variance,
    "varbench": plots.plot_varbench,
}[snakemake.params.kind]  # noqa: F821
draw(pd.read_parquet(snakemake.input[0]), [snakemake.output.png, snakemake.output.pdf])  # noqa: F821
