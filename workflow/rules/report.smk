# The report's pages: one job per table page of the registry
# (gapstudy.registry.PAGES), the front page, provenance and run time.


rule page:
    input:
        table=lambda wc: reg.table(PAGES[wc.page].table),
    output:
        report(
            reg.page("{page}"),
            caption="../../report/caption.rst",
            category=lambda wc: PAGES[wc.page].category,
            subcategory=lambda wc: PAGES[wc.page].subcategory or None,
            labels=lambda wc: {"table": PAGES[wc.page].title},
        ),
    log:
        reg.log("pages/{page}"),
    conda:
        "../envs/analysis.yaml"
    params:
        title=lambda wc: PAGES[wc.page].title,
        caption=lambda wc: PAGES[wc.page].caption.format(level=level_percent()),
        code=code("page.py"),
    script:
        "../scripts/page.py"


rule answer:
    input:
        runs=rules.aggregate.output.runs,
        timings=rules.aggregate.output.timings,
        incomplete=rules.aggregate.output.incomplete,
        hypotheses=rules.statistics.output.hypotheses,
        summary=rules.statistics.output.summary,
        comparison=rules.statistics.output.comparison,
        equivalence=rules.statistics.output.equivalence,
        attribution=rules.statistics.output.attribution,
        identical=rules.statistics.output.identical,
        across_frameworks=rules.statistics.output.across_frameworks,
        environment=rules.environment.output[0],
        lockstep=lockstep_outputs(),
        crn=crn_outputs(),
        draws=draws_outputs(),
        repeats=rules.determinism.output.repeats,
        devices=rules.determinism.output.devices,
        # Shown inline beside the answer in the user's words (on a laptop, on a phone).
        figure=reg.figure("users_figures"),
        figure_phone=reg.figure("users_figures_phone"),
    output:
        answer=reg.ANSWER,
    log:
        reg.log("answer"),
    conda:
        "../envs/analysis.yaml"
    params:
        config=front_page_config(),
        code=code("answer.py"),
    script:
        "../scripts/answer.py"


rule provenance:
    input:
        runs=rules.aggregate.output.runs,
        timings=rules.aggregate.output.timings,
        environment=rules.environment.output[0],
    output:
        json=reg.PROVENANCE_JSON,
        html=report(
            reg.page("provenance"),
            caption="../../report/caption.rst",
            category=reg.PROVENANCE,
            labels={"table": PAGES["provenance"].title},
        ),
    log:
        reg.log("provenance"),
    conda:
        "../envs/analysis.yaml"
    params:
        # The page shows the whole config as the workflow read it.
        config=canonical(config),
        caption=PAGES["provenance"].caption,
        code=code("provenance.py"),
    script:
        "../scripts/provenance.py"


rule runtime:
    input:
        figures=expand(rules.figure.output, figure=FIGURE_NAMES),
        statistics=rules.statistics.output,
        determinism=rules.determinism.output,
        environment=rules.environment.output,
        lockstep=lockstep_outputs(),
        crn=crn_outputs(),
        draws=draws_outputs(),
    output:
        table=reg.table("runtime"),
    log:
        reg.log("runtime"),
    conda:
        "../envs/analysis.yaml"
    params:
        benchmarks=benchmark_files,
        root=reg.BENCHMARKS,
        code=code("runtime_table.py"),
    script:
        "../scripts/runtime_table.py"
