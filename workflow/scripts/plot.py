# Thin: the drawing lives in nqs_sweep.figures.plots.
import sys
import traceback

import pandas as pd

from nqs_sweep.figures import measurement_plots, plots

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
kind, out = snakemake.params.kind, snakemake.output  # noqa: F821
table = pd.read_parquet(snakemake.input[0])  # noqa: F821
if kind == "energies":  # rule plot_energies: every figure drawn from the energies table
    for name, draw in {
        "error_vs_width": plots.plot_error_vs_width,
        "energy_vs_coupling": plots.plot_energy_vs_coupling,
        "zero_variance": plots.plot_zero_variance,
        "varbench": plots.plot_varbench,
    }.items():
        # One figure's failure must not take the others with it (a failed job loses all its
        # outputs): its traceback goes to the rule's log and its files say where to look.
        try:
            draw(table, [out[name], out[f"{name}_pdf"]])
        except Exception:
            traceback.print_exc()
            plots.empty_figure([out[name], out[f"{name}_pdf"]], f"{name} could not be drawn: see {snakemake.log[0]}")  # noqa: F821
else:
    draw = {
        "convergence": plots.plot_convergence,
        "qgt_rank": plots.plot_qgt_rank,
        "qgt_history": plots.plot_qgt_history,
        "spectra": plots.plot_spectra,
        "sampling_efficiency": plots.plot_sampling_efficiency,
        "measurements": measurement_plots.plot_measurements,
    }[kind]
    draw(table, [out.png, out.pdf])
