# The paper workflow's functions (workflow/paper.smk): Snakemake's lint keeps functions and rules in
# separate files.


def study_config(key):
    with open(config["studies"][key]) as f:
        return yaml.safe_load(f)


def table(key, name):
    return f"results/{STUDY_NAMES[key]}/tables/{name}.parquet"


# The drawing code is an input too: Snakemake tracks a rule's own script, not the library it
# imports, and a changed figure must be redrawn.
DRAWING_CODE = {"code_paper_figures": paper_figures.__file__, "code_plots": plots.__file__, "code_manifest": manifest.__file__}


def figure_inputs(wildcards):
    fig = FIGURES[wildcards.figure]
    inputs = {name: table(*source) for name, source in fig["tables"].items()}
    inputs.update({f"runs_{i}": table(*source) for i, source in enumerate(fig["runs"])})
    return {**inputs, **DRAWING_CODE}
