# The port's report: the front page (report/port.rst includes it), the
# figure, one page per table, and provenance.


rule port_figure:
    input:
        runs=port_paths.table(NAME, "runs"),
        causes=port_paths.table(NAME, "causes"),
    output:
        report(
            P["figure"],
            caption="../../../report/caption.rst",
            category=port_paths.DIAGNOSIS,
            labels={"figure": "arms"},
        ),
    log:
        f"{P['logs']}/figure.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        caption="The validation metric of every arm and seed (log scale), and each fix's paired effect on the port with its interval.",
        code=code("port/figure.py"),
    script:
        "../../scripts/port/figure.py"


rule port_page:
    input:
        table=lambda wc: port_paths.table(NAME, wc.page),
    output:
        report(
            P["page"],
            caption="../../../report/caption.rst",
            category=lambda wc: port_paths.PAGES[wc.page].category,
            labels=lambda wc: {"table": port_paths.PAGES[wc.page].title},
        ),
    log:
        f"{P['logs']}/pages/{{page}}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        title=lambda wc: port_paths.PAGES[wc.page].title,
        caption=lambda wc: port_paths.PAGES[wc.page].caption.format(
            level=level_percent()
        ),
        code=code("page.py"),
    script:
        "../../scripts/page.py"


rule port_answer:
    input:
        verdict=port_paths.table(NAME, "verdict"),
        causes=port_paths.table(NAME, "causes"),
        arms=port_paths.table(NAME, "arms"),
        runs=port_paths.table(NAME, "runs"),
    output:
        front=P["front"],
    log:
        f"{P['logs']}/answer.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        config=canonical(config),
        code=code("port/answer.py"),
    script:
        "../../scripts/port/answer.py"


rule port_provenance:
    input:
        environment=P["environment"],
    output:
        report(
            P["page"].format(page="provenance"),
            caption="../../../report/caption.rst",
            category=port_paths.PROVENANCE,
            labels={"table": "Config and software"},
        ),
    log:
        f"{P['logs']}/provenance.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        config=canonical(config),
        caption="The port's config as the workflow read it, and every installed package with its version.",
        code=code("catalogue/provenance.py"),
    script:
        "../../scripts/catalogue/provenance.py"
