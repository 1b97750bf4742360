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
    params:
        figure=lambda wc: wc.figure,
    wildcard_constraints:
        figure="|".join(FIGURES),
    log:
        "logs/figures/{figure}.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figure.py"
