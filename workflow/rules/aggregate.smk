# Study tables: every point's summary and history, joined with the exact references.


rule aggregate:
    input:
        summaries=expand(f"{RESULTS}/vmc/{{point}}/summary.parquet", point=POINTS),
        histories=expand(f"{RESULTS}/vmc/{{point}}/history.parquet", point=POINTS),
        exacts=expand(f"{RESULTS}/exact/{{ref}}/exact.parquet", ref=REFERENCES) + PUBLISHED,
    output:
        energies=f"{RESULTS}/tables/energies.parquet",
        # the same points for a reader, in the report
        energies_tsv=report(f"{RESULTS}/tables/energies.tsv", category="Study", caption="../report/energies.rst"),
        convergence=f"{RESULTS}/tables/convergence.parquet",
        seed_ensembles=f"{RESULTS}/tables/seed_ensembles.parquet",
        zero_variance=f"{RESULTS}/tables/zero_variance.parquet",
    params:
        # per spec hash, the settings that set a point apart at equal coordinates (a column, and a
        # part of the figures' line labels)
        variants=lambda wildcards: {p.spec.spec_hash: point_variant(p) for p in STUDY.points},
    log:
        f"{RESULTS}/logs/aggregate.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate.tsv"
    resources:
        runtime=10,
        mem_mb=2000,
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/aggregate.py"


rule study_parameters:
    output:
        points=report(f"{RESULTS}/study/points.tsv", category="Study", caption="../report/points.rst"),
        config=report(f"{RESULTS}/study/study.yaml", category="Study", caption="../report/study.rst"),
    params:
        points=lambda wildcards: [{"point": p.path, "spec_hash": p.spec.spec_hash} for p in STUDY.points],
        config=lambda wildcards: yaml.safe_dump(dict(config), sort_keys=False),
    log:
        f"{RESULTS}/logs/study_parameters.log",
    localrule: True
    run:
        import pandas as pd

        pd.DataFrame(params.points).to_csv(output.points, sep="\t", index=False)
        write_text(output.config, params.config)


rule measurements:
    input:
        # the summary is written after measurements.parquet: its presence means the table is there
        summaries=[f"{RESULTS}/vmc/{p.path}/summary.parquet" for p in MEASURED],
        exacts=[f"{RESULTS}/exact/{ref}/exact.parquet" for ref in sorted(MEASURED_REFERENCES)],
    output:
        f"{RESULTS}/tables/measurements.parquet",
    params:
        references={p.path: p.reference for p in MEASURED},
        variants=lambda wildcards: {p.spec.spec_hash: point_variant(p) for p in MEASURED},
    log:
        f"{RESULTS}/logs/measurements.log",
    resources:
        runtime=10,
        mem_mb=4000,
    conda:
        "../envs/nqs-sweep.yaml"
    script:
        "../scripts/measurements.py"
