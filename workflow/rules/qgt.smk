# QGT spectra of every finished point, when the study has a `qgt:` section: of the final state,
# and along the optimisation at the snapshots a point keeps (spec key snapshot_every).


rule qgt_spectrum:
    input:
        summary=f"{RESULTS}/vmc/{{point}}/summary.parquet",
    output:
        final=f"{RESULTS}/vmc/{{point}}/spectrum.parquet",
        history=f"{RESULTS}/vmc/{{point}}/spectrum_history.parquet",
    log:
        f"{RESULTS}/logs/qgt/{{point}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/qgt/{{point}}.tsv"
    params:
        n_samples=lambda wildcards: f"--n-samples {STUDY.qgt['n_samples']}" if STUDY.qgt and STUDY.qgt["n_samples"] else "",
    threads: 1
    resources:
        runtime=30,
        mem_mb=4000,
    conda:
        "../envs/nqs-sweep.yaml"
    shell:
        "\"$NQS_PYTHON\" -m nqs_sweep.cli qgt --threads {threads} --run $(dirname {input.summary}) {params.n_samples} > {log} 2>&1"


rule aggregate_qgt:
    input:
        spectra=expand(f"{RESULTS}/vmc/{{point}}/spectrum.parquet", point=POINTS),
        histories=expand(f"{RESULTS}/vmc/{{point}}/spectrum_history.parquet", point=POINTS),
        energies=rules.aggregate.output.energies,
        exact=rules.aggregate.input.exacts,
    output:
        spectra=f"{RESULTS}/tables/spectra.parquet",
        ranks=f"{RESULTS}/tables/qgt_rank.parquet",
        history=f"{RESULTS}/tables/qgt_history.parquet",
    log:
        f"{RESULTS}/logs/aggregate_qgt.log",
    resources:
        runtime=10,
        mem_mb=2000,
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/aggregate_qgt.py"


rule plot_qgt_rank:
    input:
        rules.aggregate_qgt.output.ranks,
    output:
        png=report(f"{RESULTS}/figures/qgt_rank.png", category="Figures", caption="../report/qgt_rank.rst"),
        pdf=f"{RESULTS}/figures/qgt_rank.pdf",
    log:
        f"{RESULTS}/logs/plot_qgt_rank.log",
    params:
        kind="qgt_rank",
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot.py"


rule plot_spectra:
    input:
        rules.aggregate_qgt.output.spectra,
    output:
        png=report(f"{RESULTS}/figures/qgt_spectra.png", category="Figures", caption="../report/qgt_spectra.rst"),
        pdf=f"{RESULTS}/figures/qgt_spectra.pdf",
    log:
        f"{RESULTS}/logs/plot_spectra.log",
    params:
        kind="spectra",
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot.py"


rule plot_qgt_history:
    input:
        rules.aggregate_qgt.output.history,
    output:
        png=report(f"{RESULTS}/figures/qgt_history.png", category="Figures", caption="../report/qgt_history.rst"),
        pdf=f"{RESULTS}/figures/qgt_history.pdf",
    log:
        f"{RESULTS}/logs/plot_qgt_history.log",
    params:
        kind="qgt_history",
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot.py"
