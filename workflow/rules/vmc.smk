# One ground-state optimisation per point. The run directory keeps its checkpoint and
# partial history outside the declared outputs, so an interrupted job continues from
# its checkpoint under --rerun-incomplete. A diverged or failed point still writes its
# summary (status column) and the sweep goes on. Exact references are joined by the
# aggregate rule, so a point neither waits for nor depends on its Lanczos job.


rule point_spec:
    output:
        f"{RESULTS}/vmc/{{point}}/spec.yaml",
    params:
        # A changed spec changes this text, which reruns this point (and only it).
        text=point_spec_text,
    log:
        f"{RESULTS}/logs/spec/vmc/{{point}}.log",
    localrule: True
    run:
        write_run_spec(output[0], params.text)


rule vmc:
    input:
        spec=f"{RESULTS}/vmc/{{point}}/spec.yaml",
    output:
        summary=f"{RESULTS}/vmc/{{point}}/summary.parquet",
        history=f"{RESULTS}/vmc/{{point}}/history.parquet",
    log:
        f"{RESULTS}/logs/vmc/{{point}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/vmc/{{point}}.tsv"
    threads: 1
    resources:
        runtime=120,
        mem_mb=4000,
    conda:
        "../envs/nqs-sweep.yaml"
    # exec: SLURM sends its SIGTERM to every process of the job step; a shell that waited for the
    # solver would die of it at once, and Snakemake would see a killed job instead of the
    # solver's exit 75 (interrupted, checkpoint written).
    shell:
        "exec \"$NQS_PYTHON\" -m nqs_sweep.cli vmc --threads {threads} --spec {input.spec} --out $(dirname {output.summary}) --exact none"
        " --record-failures --replace-stale > {log} 2>&1"
