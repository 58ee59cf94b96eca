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


rule plot_error_vs_width:
    input:
        rules.aggregate.output.energies,
    output:
        png=report(f"{RESULTS}/figures/error_vs_width.png", category="Figures", caption="../report/error_vs_width.rst"),
        pdf=f"{RESULTS}/figures/error_vs_width.pdf",
    log:
        f"{RESULTS}/logs/plot_error_vs_width.log",
    params:
        kind="error_vs_width",
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot.py"


rule plot_energy_vs_coupling:
    input:
        rules.aggregate.output.energies,
    output:
        png=report(f"{RESULTS}/figures/energy_vs_coupling.png", category="Figures", caption="../report/energy_vs_coupling.rst"),
        pdf=f"{RESULTS}/figures/energy_vs_coupling.pdf",
    log:
        f"{RESULTS}/logs/plot_energy_vs_coupling.log",
    params:
        kind="energy_vs_coupling",
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot.py"


rule plot_zero_variance:
    input:
        rules.aggregate.output.energies,
    output:
        png=report(f"{RESULTS}/figures/zero_variance.png", category="Figures", caption="../report/zero_variance.rst"),
        pdf=f"{RESULTS}/figures/zero_variance.pdf",
    log:
        f"{RESULTS}/logs/plot_zero_variance.log",
    params:
        kind="zero_variance",
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot.py"


rule plot_varbench:
    input:
        rules.aggregate.output.energies,
    output:
        png=report(f"{RESULTS}/figures/varbench.png", category="Figures", caption="../report/varbench.rst"),
        pdf=f"{RESULTS}/figures/varbench.pdf",
    log:
        f"{RESULTS}/logs/plot_varbench.log",
    params:
        kind="varbench",
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
