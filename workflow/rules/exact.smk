# Exact references: one Lanczos per (model, couplings, lattice, sector), shared by
# every point that has it.


rule reference_spec:
    output:
        f"{RESULTS}/exact/{{ref}}/spec.yaml",
    params:
        text=reference_spec_text,
    log:
        f"{RESULTS}/logs/spec/exact/{{ref}}.log",
    localrule: True
    run:
        write_text(output[0], params.text)


rule exact_reference:
    input:
        f"{RESULTS}/exact/{{ref}}/spec.yaml",
    output:
        f"{RESULTS}/exact/{{ref}}/exact.parquet",
    log:
        f"{RESULTS}/logs/exact/{{ref}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/exact/{{ref}}.tsv"
    params:
        # the ground state too, for the exact values of the points' measurements
        vector=lambda wildcards: "--vector" if wildcards.ref in MEASURED_REFERENCES else "",
    threads: 1
    resources:
        runtime=30,
        mem_mb=4000,
    conda:
        "../envs/nqs-sweep.yaml"
    shell:
        "\"$NQS_PYTHON\" -m nqs_sweep.cli exact --threads {threads} --spec {input} --out $(dirname {output}) {params.vector}"
        " --record-failures > {log} 2>&1"


rule published_references:
    output:
        f"{RESULTS}/exact/published.parquet",
    params:
        # The study's `published:` entries, resolved to the points they match.
        rows=lambda wildcards: [dict(r) for r in STUDY.published],
    log:
        f"{RESULTS}/logs/published_references.log",
    localrule: True
    run:
        import pandas as pd

        from nqs_sweep.tables.columns import write_table

        write_table(pd.DataFrame(params.rows), output[0])
