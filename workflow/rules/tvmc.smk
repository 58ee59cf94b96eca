# Quenches: one t-VMC job per quench, started from the final state of its initial
# ground-state point (the vmc rule's checkpoint) or from a product state. Exact dynamics
# is computed inside the job where the study's exact.max_dim allows. A failed quench
# still writes its summary (status 'failed') and the study goes on.


rule quench_spec:
    output:
        f"{RESULTS}/tvmc/{{quench}}/spec.yaml",
    params:
        text=lambda wildcards: yaml.safe_dump(STUDY.quench(wildcards.quench).spec.to_raw(), sort_keys=True),
    log:
        f"{RESULTS}/logs/spec/tvmc/{{quench}}.log",
    localrule: True
    run:
        write_run_spec(output[0], params.text)


rule tvmc:
    input:
        spec=f"{RESULTS}/tvmc/{{quench}}/spec.yaml",
        initial=quench_initial_inputs,
    output:
        trajectory=f"{RESULTS}/tvmc/{{quench}}/trajectory.parquet",
        steps=f"{RESULTS}/tvmc/{{quench}}/steps.parquet",
        summary=f"{RESULTS}/tvmc/{{quench}}/summary.parquet",
    log:
        f"{RESULTS}/logs/tvmc/{{quench}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/tvmc/{{quench}}.tsv"
    params:
        initial=quench_initial_args,
        # the study decided (exact.max_dim): no second size limit in the CLI
        exact=lambda wildcards: "auto --exact-max-dim 16777216" if STUDY.quench(wildcards.quench).exact else "none",
    threads: 1
    resources:
        runtime=240,
        mem_mb=8000,
    conda:
        "../envs/nqs-sweep.yaml"
    # exec: SLURM sends its SIGTERM to every process of the job step; a shell that waited for the
    # solver would die of it at once, and Snakemake would see a killed job instead of the
    # solver's exit 75 (interrupted, checkpoint written).
    shell:
        "exec \"$NQS_PYTHON\" -m nqs_sweep.cli tvmc --threads {threads} --spec {input.spec} --out $(dirname {output.summary}) {params.initial} --exact {params.exact}"
        " --record-failures --replace-stale > {log} 2>&1"


rule aggregate_dynamics:
    input:
        trajectories=expand(f"{RESULTS}/tvmc/{{quench}}/trajectory.parquet", quench=QUENCHES),
        steps=expand(f"{RESULTS}/tvmc/{{quench}}/steps.parquet", quench=QUENCHES),
        summaries=expand(f"{RESULTS}/tvmc/{{quench}}/summary.parquet", quench=QUENCHES),
    output:
        dynamics=f"{RESULTS}/tables/dynamics.parquet",
        steps=f"{RESULTS}/tables/dynamics_steps.parquet",
        summary=f"{RESULTS}/tables/quenches.parquet",
    log:
        f"{RESULTS}/logs/aggregate_dynamics.log",
    localrule: True
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/aggregate_dynamics.py"


rule plot_dynamics:
    input:
        dynamics=rules.aggregate_dynamics.output.dynamics,
        steps=rules.aggregate_dynamics.output.steps,
    output:
        png=report(
            f"{RESULTS}/figures/dynamics/{{slug}}.png",
            category="Dynamics",
            caption="../report/dynamics.rst",
        ),
        pdf=f"{RESULTS}/figures/dynamics/{{slug}}.pdf",
    log:
        f"{RESULTS}/logs/plot_dynamics/{{slug}}.log",
    localrule: True
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot_dynamics.py"


rule plot_dynamics_error:
    input:
        summary=rules.aggregate_dynamics.output.summary,
        dynamics=rules.aggregate_dynamics.output.dynamics,
    output:
        png=report(
            f"{RESULTS}/figures/dynamics_error.png",
            category="Dynamics",
            caption="../report/dynamics_error.rst",
        ),
        pdf=f"{RESULTS}/figures/dynamics_error.pdf",
    log:
        f"{RESULTS}/logs/plot_dynamics_error.log",
    localrule: True
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot_dynamics.py"


rule plot_entanglement_growth:
    input:
        dynamics=rules.aggregate_dynamics.output.dynamics,
    output:
        png=report(f"{RESULTS}/figures/entanglement_growth.png", category="Dynamics", caption="../report/entanglement_growth.rst"),
        pdf=f"{RESULTS}/figures/entanglement_growth.pdf",
    log:
        f"{RESULTS}/logs/plot_entanglement_growth.log",
    localrule: True
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/plot_dynamics.py"
