# nqs-sweep: one job per study point, exact references, aggregate tables and figures.
#   snakemake --cores all                                   # the default study (config/config.yaml)
#   snakemake --cores all --configfile config/studies/X.yaml
#   snakemake --report results/<study>/report.html
from snakemake.utils import min_version

min_version("8.0")


# The report's front page (snakemake --report): what the study is and where its parts are.
report: "workflow/report/workflow.rst"


# The default study, unless --configfile names another: command-line config files are
# merged into this one, and a study must not inherit the default's grid axes.
if not config:

    configfile: "config/config.yaml"



include: "workflow/rules/common.smk"
include: "workflow/rules/exact.smk"
include: "workflow/rules/vmc.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/qgt.smk"
include: "workflow/rules/tvmc.smk"
include: "workflow/rules/sampling.smk"


rule all:
    input:
        # Per-point results are targets themselves: a deleted one is recomputed even
        # though the aggregate tables built from it still exist.
        rules.aggregate.input.summaries,
        rules.aggregate.input.histories,
        rules.aggregate.output,
        rules.plot_convergence.output,
        rules.plot_energies.output,
        f"{RESULTS}/study/points.tsv",
        # QGT spectra and rank figures, when the study has a `qgt:` section
        QGT_TARGETS,
        # effective samples per second, when the study has a `sampling:` section
        SAMPLING_TARGETS,
        # quench trajectories, tables and figures, when the study has a `quenches:` section
        DYNAMICS_TARGETS,
        # correlations, structure factors, entanglement, when points have `measurements:`
        MEASUREMENT_TARGETS,


onsuccess:
    print(closing_lines())
