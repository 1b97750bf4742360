# The catalogue report: the front page (report/catalogue.rst includes it),
# the figures, one page per table, and provenance.


rule catalogue_figure:
    input:
        pitfalls=paths.table("pitfalls"),
    output:
        report(
            paths.figure("{figure}"),
            caption="../../../report/caption.rst",
            category=CATALOGUE_PAGES["pitfalls"].category,
            labels=lambda wc: {"figure": wc.figure},
        ),
    log:
        paths.log("figures/{figure}"),
    conda:
        "../../envs/analysis.yaml"
    params:
        level=config["statistics"]["confidence_level"],
        caption=lambda wc: CATALOGUE_FIGURES[wc.figure].format(level=level_percent()),
        code=code("catalogue/figure.py"),
    script:
        "../../scripts/catalogue/figure.py"


rule catalogue_page:
    input:
        table=lambda wc: paths.table(wc.page),
    output:
        report(
            paths.page("{page}"),
            caption="../../../report/caption.rst",
            category=lambda wc: CATALOGUE_PAGES[wc.page].category,
            labels=lambda wc: {"table": CATALOGUE_PAGES[wc.page].title},
        ),
    log:
        paths.log("pages/{page}"),
    conda:
        "../../envs/analysis.yaml"
    params:
        title=lambda wc: CATALOGUE_PAGES[wc.page].title,
        caption=lambda wc: CATALOGUE_PAGES[wc.page].caption.format(
            level=level_percent()
        ),
        code=code("page.py"),
    script:
        "../../scripts/page.py"


rule catalogue_answer:
    input:
        pitfalls=paths.table("pitfalls"),
        runs=paths.table("runs"),
    output:
        front=paths.FRONT_PAGE,
    log:
        paths.log("answer"),
    conda:
        "../../envs/analysis.yaml"
    params:
        # What the front page reads of the config.
        config=canonical(config),
        code=code("catalogue/answer.py"),
    script:
        "../../scripts/catalogue/answer.py"


rule catalogue_provenance:
    input:
        environment=paths.ENVIRONMENT,
    output:
        report(
            paths.page("provenance"),
            caption="../../../report/caption.rst",
            category="Provenance",
            labels={"table": "Config and software"},
        ),
    log:
        paths.log("provenance"),
    conda:
        "../../envs/analysis.yaml"
    params:
        config=canonical(config),
        caption="The catalogue's config as the workflow read it, and every installed package with its version.",
        code=code("catalogue/provenance.py"),
    script:
        "../../scripts/catalogue/provenance.py"
