# One job per figure of the registry (gapstudy.registry.FIGURES): the tables
# it is drawn from, its caption, its place in the report.


rule figure:
    input:
        tables=lambda wc: [reg.table(t) for t in FIGURES[wc.figure].tables],
    output:
        report(
            reg.figure("{figure}"),
            caption="../../report/caption.rst",
            category=lambda wc: FIGURES[wc.figure].category,
            subcategory=lambda wc: FIGURES[wc.figure].subcategory,
            labels=lambda wc: {"figure": wc.figure.replace("_", " ")},
        ),
    log:
        reg.log("figures/{figure}"),
    benchmark:
        reg.benchmark("figure/{figure}")
    conda:
        "../envs/analysis.yaml"
    params:
        figure=lambda wc: wc.figure,
        caption=lambda wc: FIGURES[wc.figure].caption.format(level=level_percent()),
        intervals=intervals(),
        code=code("figure.py"),
    script:
        "../scripts/figure.py"
