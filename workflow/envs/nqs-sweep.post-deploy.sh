#!/usr/bin/env bash
# Runs once, inside the new conda environment, after Snakemake created it from nqs-sweep.yaml.
# Snakemake runs it from its working directory (the checkout's root: Snakefile and
# workflow/paper.smk both run from there) after copying this file into .snakemake/conda/, so
# the checkout is `.`. No dependencies: nqs-sweep.yaml pinned them all from requirements.lock.
set -euo pipefail
python -m pip install --no-deps --no-build-isolation --editable .
