# nqs-sweep: one job per study point, exact references, aggregate tables and figures.
#   snakemake --cores all                                   # the default study (config/config.yaml)
#   snakemake --cores all --configfile config/studies/X.yaml
#   snakemake --report results/<study>/report.html
from snakemake.utils import min_version

min_version("8.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/exact.smk"
include: "workflow/rules/vmc.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plots.smk"


rule all:
    input:
        rules.aggregate.output,
        rules.plot_convergence.output,
        rules.plot_error_vs_width.output,
        rules.plot_energy_vs_coupling.output,
        f"{RESULTS}/study/points.tsv",
