# Thin: concatenation of the quenches' tables (every table carries its coordinates).
import sys

import pandas as pd

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821


def concat(paths):
    frames = [pd.read_parquet(p) for p in paths]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


concat(snakemake.input.trajectories).to_parquet(snakemake.output.dynamics, index=False)  # noqa: F821
concat(snakemake.input.steps).to_parquet(snakemake.output.steps, index=False)  # noqa: F821
concat(snakemake.input.summaries).to_parquet(snakemake.output.summary, index=False)  # noqa: F821
