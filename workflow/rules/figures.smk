FIGURES = {  # name: the table it is drawn from
    "loss_curves": "epochs",
    "predicted_vs_true": "predictions",
    "mse_per_variant": "runs",
    "run_time": "runs",
}


rule figure:
    input:
        lambda wc: rules.aggregate.output[FIGURES[wc.figure]],
    output:
        report(
            "results/figures/{figure}.png",
            caption="../../report/figure.rst",
            category=RQ1,
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
