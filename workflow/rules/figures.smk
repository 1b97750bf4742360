# name: (table it is drawn from, report category)
FIGURES = {
    "loss_curves": (rules.aggregate.output.epochs, RQ1),
    "predicted_vs_true": (rules.aggregate.output.predictions, RQ1),
    "mse_per_variant": (rules.aggregate.output.runs, RQ1),
    "attribution_forest": (rules.statistics.output.attribution, RQ2),
    "learning_curves_by_variant": (rules.aggregate.output.epochs, RQ2),
    "equivalence": (rules.statistics.output.equivalence, RQ3),
    "run_time": (rules.aggregate.output.timings, PROVENANCE),
}


rule figure:
    input:
        lambda wc: FIGURES[wc.figure][0],
    output:
        report(
            "results/figures/{figure}.png",
            caption="../../report/figure.rst",
            category=lambda wc: FIGURES[wc.figure][1],
            subcategory="Figures",
            labels=lambda wc: {"figure": wc.figure.replace("_", " ")},
        ),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figure/{figure}.tsv"
    wildcard_constraints:
        figure="|".join(FIGURES),
    conda:
        "../envs/analysis.yaml"
    params:
        figure=lambda wc: wc.figure,
    script:
        "../scripts/figure.py"
