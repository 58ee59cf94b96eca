# The paper's figure set: the studies named in a paper file (config/paper/<scale>.yaml) run
# through the study workflow, each as a Snakemake module (one DAG, so a cluster runs every
# study's jobs at once), then one rule per figure draws it from the studies' tables into
# results/paper/<scale>/: <figure>.png, .pdf, .parquet (the table drawn) and .manifest.json.
#   make paper                                    # workstation scale, this machine
#   make paper PAPER=config/paper/cluster.yaml \
#        SNAKEMAKE_ARGS="--workflow-profile workflow/profiles/slurm-paper"
# A figure is redrawn only when a table it reads or the drawing code changed; a point is
# recomputed only when its spec changed (the study workflow's rules, unchanged).
import yaml
from snakemake.utils import min_version

from nqs_sweep.figures import manifest, paper_config, paper_figures, plots

min_version("8.0")


# The workstation scale, unless --configfile names another paper: command-line config files are
# merged into this one, and a paper must not inherit the workstation's studies.
if not config:

    configfile: "config/paper/workstation.yaml"



# The figures, and which study's tables each reads (keys of nqs_sweep.figures.paper_config.PAPER_STUDIES),
# and which per-run tables its manifest lists the computations from.
FIGURES = {
    "accuracy_vs_width": {
        "tables": {"energies": ("width", "energies")},
        "runs": [("width", "energies")],
        "description": "Ground-state relative error against RBM hidden-unit density, Ising and Heisenberg chains, 2D Heisenberg.",
    },
    "ansatz_minima": {
        "tables": {"energies": ("ansatz", "energies")},
        "runs": [("ansatz", "energies")],
        "description": "Relative error against parameter count on the J1-J2 model at J2 = 0.5: RBM, symmetric and deeper networks.",
    },
    "sign_problem": {
        "tables": {"energies": ("sign", "energies")},
        "runs": [("sign", "energies")],
        "description": "Relative error and V-score against J2 with and without the Marshall sign rule, fixed network and budget.",
    },
    "qgt_rank": {
        "tables": {"qgt_rank": ("qgt", "qgt_rank")},
        "runs": [("qgt", "energies")],
        "description": "QGT rank against width and parameter count, with the relative error and infidelity on the same axes.",
    },
    "quench_dynamics": {
        "tables": {"dynamics": ("quench", "dynamics")},
        "runs": [("quench", "quenches"), ("quench", "energies")],
        "description": "Magnetisation after a quench, t-VMC against exact dynamics for two widths, and the error against time.",
    },
    "entanglement": {
        "tables": {"measurements": ("quench", "measurements"), "dynamics": ("quench", "dynamics")},
        "runs": [("quench", "quenches"), ("quench", "energies")],
        "description": "Renyi-2 entropy: the initial ground state's S2 against block size, and S2(t) after the quench, against exact.",
    },
    "volume_law": {
        "tables": {"dynamics": ("volume", "dynamics"), "quenches": ("volume", "quenches")},
        "runs": [("volume", "quenches")],
        "description": "Renyi-2 entropy after a quench, long-range against short-range RBMs at equal parameters: S2(t) and S2(|A|) against exact, with the area-law bound.",
    },
    "sampling_health": {
        "tables": {"convergence": ("width", "convergence"), "energies": ("width", "energies")},
        "runs": [("width", "energies")],
        "description": "Split R-hat, autocorrelation time and the corrected against naive energy error bar over an optimisation.",
    },
}


try:  # before any job: the file's keys, its study files, their sections and names
    STUDY_NAMES = paper_config.check_paper(config)
except paper_config.PaperConfigError as err:
    raise WorkflowError(str(err)) from None
if set(FIGURES) != set(paper_figures.FIGURES):
    raise WorkflowError(f"paper.smk draws {sorted(FIGURES)}, nqs_sweep.figures.paper_figures has {sorted(paper_figures.FIGURES)}")
PAPER_STUDIES = paper_config.PAPER_STUDIES
SCALE = config["paper"]
PAPER = f"results/paper/{SCALE}"


include: "rules/paper_common.smk"


rule paper:
    input:
        expand(f"{PAPER}/{{figure}}.{{ext}}", figure=FIGURES, ext=("png", "pdf", "parquet", "manifest.json")),
        # every study's own targets too (per-point results, tables, study figures): a deleted
        # point result is recomputed, as `snakemake` of the study alone would.
        lambda wildcards: [f for key in PAPER_STUDIES for f in getattr(rules, f"{key}_all").input],


# One module per study: its rules get the study's key as a prefix (width_vmc, qgt_qgt_spectrum).
module width:
    snakefile:
        "../Snakefile"
    config:
        study_config("width")


use rule * from width as width_*


module ansatz:
    snakefile:
        "../Snakefile"
    config:
        study_config("ansatz")


use rule * from ansatz as ansatz_*


module sign:
    snakefile:
        "../Snakefile"
    config:
        study_config("sign")


use rule * from sign as sign_*


module qgt:
    snakefile:
        "../Snakefile"
    config:
        study_config("qgt")


use rule * from qgt as qgt_*


module quench:
    snakefile:
        "../Snakefile"
    config:
        study_config("quench")


use rule * from quench as quench_*


module volume:
    snakefile:
        "../Snakefile"
    config:
        study_config("volume")


use rule * from volume as volume_*


rule paper_figure:
    input:
        unpack(figure_inputs),
    output:
        png=f"{PAPER}/{{figure}}.png",
        pdf=f"{PAPER}/{{figure}}.pdf",
        table=f"{PAPER}/{{figure}}.parquet",
        manifest=f"{PAPER}/{{figure}}.manifest.json",
    wildcard_constraints:
        figure="|".join(FIGURES),
    params:
        tables=lambda wildcards: list(FIGURES[wildcards.figure]["tables"]),
        description=lambda wildcards: FIGURES[wildcards.figure]["description"],
        scale=SCALE,
    log:
        f"{PAPER}/logs/{{figure}}.log",
    localrule: True
    conda:
        "envs/nqs-sweep.yaml"
    script:
        "scripts/paper_figure.py"


onsuccess:
    print(f"Paper figures ({SCALE}): {PAPER}/ (<figure>.png, .pdf, .parquet, .manifest.json); each study's results under results/<study>/.")
