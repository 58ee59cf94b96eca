# Validation and helpers. The study is checked twice before any job starts: its
# structure against the JSON schema, then every point through the solver's own spec
# parser (nqs_sweep.study), which names the offending field.
import os
import sys
from pathlib import Path

import yaml
from snakemake.utils import validate

from nqs_sweep.jobs.rundir import move_aside_if_unwritable
from nqs_sweep.spec import SpecError, read_yaml_file
from nqs_sweep.study import StudyError, expand_study, normalise_study, point_variant

# Snakemake reads config files with a YAML loader that keeps the last of two equal keys: each
# study file is read again by the solver's own loader, which refuses duplicate keys (and files
# that are not UTF-8, too large or too deeply nested), so a repeated axis is not silently dropped.
for _study_file in workflow.configfiles:
    try:
        read_yaml_file(_study_file, where=str(_study_file))
    except SpecError as err:
        raise WorkflowError(f"invalid study: {err}") from None

try:
    # Bounded and read as the point specs are (1e-3 a number) before the schema sees it.
    config.update(normalise_study(config))
except StudyError as err:
    raise WorkflowError(f"invalid study: {err}") from None
validate(config, "../schemas/study.schema.yaml")
try:
    STUDY = expand_study(config)
except StudyError as err:
    raise WorkflowError(f"invalid study: {err}") from None

RESULTS = f"results/{STUDY.name}"
# The solver's CLI under the interpreter running Snakemake: no activated venv needed, and
# cluster jobs (which inherit the environment) run the same installation. An environment
# variable rather than a global in the shell command: the paper workflow uses these rules as
# modules, whose shell commands do not see module globals, and a param would rerun every
# point when the interpreter's path is spelled differently.
# Under Snakemake's conda deployment (--sdm conda) a job runs in the rule's environment
# (workflow/envs/nqs-sweep.yaml), whose `python` comes first on its PATH.
_conda = any(m.name == "CONDA" for m in workflow.deployment_settings.deployment_method)
os.environ["NQS_PYTHON"] = "python" if _conda else sys.executable


envvars:
    "NQS_PYTHON",


POINTS = [p.path for p in STUDY.points]
# Points that measure more than their energy (spec `measurements`), and the references that keep
# their exact ground state for them (nqs-sweep exact --vector).
MEASURED = [p for p in STUDY.points if p.spec.measurements]
MEASURED_REFERENCES = {p.reference for p in MEASURED if p.reference is not None}
MEASUREMENT_TARGETS = (
    [f"{RESULTS}/tables/measurements.parquet"] + [f"{RESULTS}/figures/measurements.{ext}" for ext in ("png", "pdf")]
    if MEASURED
    else []
)
QUENCHES = [q.path for q in STUDY.quenches]
DYNAMICS_TARGETS = (
    [f"{RESULTS}/figures/dynamics/{q.slug}.{ext}" for q in STUDY.quenches for ext in ("png", "pdf")]
    + [f"{RESULTS}/figures/dynamics_error.{ext}" for ext in ("png", "pdf")]
    + [f"{RESULTS}/tables/dynamics.parquet", f"{RESULTS}/tables/quenches.parquet"]
    if STUDY.quenches
    else []
)
# S2(t) of every quench against the exact growth, when the quenches measure renyi2
DYNAMICS_TARGETS += (
    [f"{RESULTS}/figures/entanglement_growth.{ext}" for ext in ("png", "pdf")]
    if any(m.name == "renyi2" for q in STUDY.quenches for m in q.spec.point.measurements)
    else []
)
REFERENCES = sorted(STUDY.references)
# Literature energies for points past exact diagonalisation, as one table beside the exact ones.
PUBLISHED = [f"{RESULTS}/exact/published.parquet"] if STUDY.published else []
QGT_TARGETS = (
    [f"{RESULTS}/figures/{name}.{ext}" for name in ("qgt_rank", "qgt_spectra", "qgt_history") for ext in ("png", "pdf")]
    + [f"{RESULTS}/tables/qgt_rank.parquet", f"{RESULTS}/tables/qgt_history.parquet"]
    if STUDY.qgt is not None
    else []
)
SAMPLING_TARGETS = (
    [f"{RESULTS}/figures/sampling_efficiency.{ext}" for ext in ("png", "pdf")] + [f"{RESULTS}/tables/sampling.parquet"]
    if STUDY.sampling is not None
    else []
)


wildcard_constraints:
    point=r"model~[^ ]+",
    ref=r"model~[^ ]+",
    quench=r"model~[^ ]+/initial~[^ ]+",
    slug=r"[0-9a-f]+",


def point_spec_text(wildcards):
    # The resolved spec: a changed solver default changes this text and reruns the point.
    return yaml.safe_dump(STUDY.point(wildcards.point).spec.to_raw(), sort_keys=True)


def reference_spec_text(wildcards):
    return yaml.safe_dump(STUDY.references[wildcards.ref], sort_keys=True)


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def write_run_spec(path, text):
    """A point's or quench's spec into its run directory. One that this user cannot write is moved
    aside first (<name>.unwritable), as the solver does: the point starts afresh, not failed."""
    move_aside_if_unwritable(Path(path).parent)
    write_text(path, text)


# Quenches start from the final state of their initial ground-state point (tvmc.smk).
def quench_initial_inputs(wildcards):
    q = STUDY.quench(wildcards.quench)
    if q.initial_point is None:
        return []
    # The summary is written last: its presence means the checkpoint is final.
    return [f"{RESULTS}/vmc/{q.initial_point}/summary.parquet"]


def quench_initial_args(wildcards):
    q = STUDY.quench(wildcards.quench)
    return f"--initial-run {RESULTS}/vmc/{q.initial_point}" if q.initial_point else ""


# The run's last words (onsuccess in the Snakefile): where the results are, and the points that
# did not finish (a failed point is recorded in the tables and the sweep goes on, so say so here).
def closing_lines():
    lines = [
        f"Study {STUDY.name}: tables in {RESULTS}/tables/, figures in {RESULTS}/figures/, logs in {RESULTS}/logs/.",
        f"Report: snakemake --report {RESULTS}/report.html, with the same --configfile as this run.",
    ]
    # A study of quenches alone has an energies table without rows (nor columns); one of ground
    # states alone, no quenches table.
    for table, finished, what in (("energies", ("converged", "not_converged"), "points"), ("quenches", ("completed",), "quenches")):
        path = f"{RESULTS}/tables/{table}.parquet"
        if not os.path.exists(path):
            continue
        import pandas as pd

        df = pd.read_parquet(path)
        if "status" not in df:
            continue
        unfinished = df["status"][~df["status"].isin(finished)].value_counts()
        if len(unfinished):
            counts = ", ".join(f"{n} {s}" for s, n in unfinished.items())
            lines.append(f"{unfinished.sum()} of {len(df)} {what} did not finish ({counts}): the status column says which.")
    return "\n".join(lines)
