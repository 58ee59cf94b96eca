# Sampling efficiency of every finished point, when the study has a `sampling:` section:
# effective samples per second of Metropolis and (for autoregressive ansatze) direct sampling.


rule sampling_efficiency:
    input:
        summary=f"{RESULTS}/vmc/{{point}}/summary.parquet",
    output:
        f"{RESULTS}/vmc/{{point}}/sampling.parquet",
    log:
        f"{RESULTS}/logs/sampling/{{point}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sampling/{{point}}.tsv"
    params:
        args=lambda wildcards: " ".join(
            [f"--repeats {STUDY.sampling['repeats']}"]
            + ([f"--n-samples {STUDY.sampling['n_samples']}"] if STUDY.sampling["n_samples"] else [])
        ),
    # Timings want the cores to themselves: with --cores 2 (this rule's threads) a sampling job
    # runs alone; with more cores other jobs may share the machine and the timings are upper
    # bounds. (workflow.cores would say "all", but is undefined on a cluster, where the slurm
    # profile gives the job its own CPUs and GPU.)
    threads: 2
    resources:
        runtime=30,
        mem_mb=4000,
    conda:
        "../envs/nqs-sweep.yaml"
    shell:
        "\"$NQS_PYTHON\" -m nqs_sweep.cli sampling --threads {threads} --run $(dirname {input.summary}) {params.args} > {log} 2>&1"


rule aggregate_sampling:
    input:
        expand(f"{RESULTS}/vmc/{{point}}/sampling.parquet", point=POINTS),
    output:
        f"{RESULTS}/tables/sampling.parquet",
    log:
        f"{RESULTS}/logs/aggregate_sampling.log",
    resources:
        runtime=10,
        mem_mb=2000,
    run:
        from nqs_sweep.tables.aggregate import sampling_efficiency_table
        from nqs_sweep.tables.columns import write_table

        write_table(sampling_efficiency_table(input), output[0])


rule plot_sampling_efficiency:
    input:
        rules.aggregate_sampling.output,
    output:
        png=report(
            f"{RESULTS}/figures/sampling_efficiency.png", category="Figures", caption="../report/sampling_efficiency.rst"
        ),
        pdf=f"{RESULTS}/figures/sampling_efficiency.pdf",
    log:
        f"{RESULTS}/logs/plot_sampling_efficiency.log",
    params:
        kind="sampling_efficiency",
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot.py"
