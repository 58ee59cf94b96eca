# Thin: the drawing lives in nqs_sweep.figures.plots.
import sys

import pandas as pd

from nqs_sweep.figures import measurement_plots, plots

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
out = [snakemake.output.png, snakemake.output.pdf]  # noqa: F821
if "slug" in snakemake.wildcards.keys():  # noqa: F821
    dyn = pd.read_parquet(snakemake.input.dynamics)  # noqa: F821
    steps = pd.read_parquet(snakemake.input.steps)  # noqa: F821
    hash_prefix = snakemake.wildcards.slug  # noqa: F821
    plots.plot_quench(
        dyn[dyn["spec_hash"].str.startswith(hash_prefix)], steps[steps["spec_hash"].str.startswith(hash_prefix)], out
    )
# endswith: in the paper workflow the rule is a module's, with the study's prefix (quench_plot_...)
elif snakemake.rule.endswith("plot_entanglement_growth"):  # noqa: F821
    measurement_plots.plot_entanglement_growth(pd.read_parquet(snakemake.input.dynamics), out)  # noqa: F821
else:
    plots.plot_dynamics_error(pd.read_parquet(snakemake.input.summary), pd.read_parquet(snakemake.input.dynamics), out)  # noqa: F821
