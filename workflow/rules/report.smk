rule report_pages:
    input:
        runs=rules.aggregate.output.runs,
        timings=rules.aggregate.output.timings,
        missing=rules.aggregate.output.missing,
        summary=rules.statistics.output.summary,
        comparison=rules.statistics.output.comparison,
        equivalence=rules.statistics.output.equivalence,
        attribution=rules.statistics.output.attribution,
        environment=rules.environment.output[0],
        lockstep=lambda wc: lockstep_outputs()[:1],
        repeats=rules.determinism.output.repeats,
        devices=rules.determinism.output.devices,
    output:
        answer="results/report/answer.rst",
        provenance="results/report/provenance.json",
        summary_html=report(
            "results/report/summary.html",
            caption="../../report/summary.rst",
            category=RQ1,
            subcategory="Tables",
            labels={"table": "summary over seeds"},
        ),
        comparison_html=report(
            "results/report/comparison.html",
            caption="../../report/comparison.rst",
            category=RQ1,
            subcategory="Tables",
            labels={"table": "comparison with the reference"},
        ),
        attribution_html=report(
            "results/report/attribution.html",
            caption="../../report/attribution.rst",
            category=RQ2,
            subcategory="Tables",
            labels={"table": "share of the gap per switch"},
        ),
        equivalence_html=report(
            "results/report/equivalence.html",
            caption="../../report/equivalence.rst",
            category=RQ3,
            subcategory="Tables",
            labels={"table": "equivalence tests (TOST)"},
        ),
        determinism_html=report(
            "results/report/determinism.html",
            caption="../../report/determinism.rst",
            category=RQ5,
            labels={"table": "do runs repeat bit for bit"},
        ),
        devices_html=report(
            "results/report/devices.html",
            caption="../../report/devices.rst",
            category=RQ5,
            labels={"table": "the same run on CPU and GPU"},
        ),
        runs_html=report(
            "results/report/runs.html",
            caption="../../report/runs.rst",
            category=RQ1,
            subcategory="Tables",
            labels={"table": "all runs"},
        ),
        missing_html=report(
            "results/report/missing.html",
            caption="../../report/missing.rst",
            category=RQ1,
            subcategory="Tables",
            labels={"table": "runs that failed or diverged"},
        ),
        provenance_html=report(
            "results/report/provenance.html",
            caption="../../report/provenance.rst",
            category=PROVENANCE,
            labels={"table": "config, versions, devices, run time"},
        ),
    log:
        "logs/report_pages.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/report_pages.py"


rule runtime:
    input:
        figures=expand(rules.figure.output, figure=FIGURES),
        statistics=rules.statistics.output,
        determinism=rules.determinism.output,
        environment=rules.environment.output,
        lockstep=lockstep_outputs(),
    output:
        table="results/tables/runtime.csv",
        html=report(
            "results/report/runtime.html",
            caption="../../report/runtime.rst",
            category=PROVENANCE,
            labels={"table": "run time per rule and framework"},
        ),
    log:
        "logs/runtime.log",
    conda:
        "../envs/analysis.yaml"
    params:
        benchmarks=benchmark_files,
        root="results/benchmarks",
    script:
        "../scripts/runtime_table.py"
