# Figures, PNG for the report and PDF for papers.


rule plot_convergence:
    input:
        rules.aggregate.output.convergence,
    output:
        png=report(f"{RESULTS}/figures/convergence.png", category="Figures", caption="../report/convergence.rst"),
        pdf=f"{RESULTS}/figures/convergence.pdf",
    log:
        f"{RESULTS}/logs/plot_convergence.log",
    params:
        kind="convergence",
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot.py"


# The figures drawn from the energies table, in one job: each is a few seconds of drawing after
# a few seconds of starting Python and importing the solver, and a study draws them all.
ENERGY_FIGURES = ("error_vs_width", "energy_vs_coupling", "zero_variance", "varbench")


rule plot_energies:
    input:
        rules.aggregate.output.energies,
    output:
        **{
            name: report(f"{RESULTS}/figures/{name}.png", category="Figures", caption=f"../report/{name}.rst")
            for name in ENERGY_FIGURES
        },
        **{f"{name}_pdf": f"{RESULTS}/figures/{name}.pdf" for name in ENERGY_FIGURES},
    log:
        f"{RESULTS}/logs/plot_energies.log",
    params:
        kind="energies",
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot.py"


rule plot_measurements:
    input:
        f"{RESULTS}/tables/measurements.parquet",
    output:
        png=report(f"{RESULTS}/figures/measurements.png", category="Figures", caption="../report/measurements.rst"),
        pdf=f"{RESULTS}/figures/measurements.pdf",
    log:
        f"{RESULTS}/logs/plot_measurements.log",
    params:
        kind="measurements",
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot.py"
