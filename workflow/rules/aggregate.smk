rule aggregate:
    input:
        jobs=train_jobs(),
        npz=rules.dataset.output.npz,
        manifest=rules.dataset.output.manifest,
    output:
        runs="results/tables/runs.csv",
        epochs="results/tables/epochs.csv",
        predictions="results/tables/predictions.csv",
        timings="results/tables/timings.csv",
        missing="results/tables/missing.csv",
    log:
        "logs/aggregate.log",
    benchmark:
        "results/benchmarks/aggregate.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        records=run_records(),
        partial=config.get("partial_results", False),
    script:
        "../scripts/aggregate.py"


rule statistics:
    input:
        runs=rules.aggregate.output.runs,
    output:
        summary="results/tables/summary.csv",
        comparison="results/tables/comparison.csv",
        equivalence="results/tables/equivalence.csv",
        attribution="results/tables/attribution.csv",
    log:
        "logs/statistics.log",
    benchmark:
        "results/benchmarks/statistics.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/statistics.py"


rule environment:
    output:
        "results/environment.json",
    log:
        "logs/environment.log",
    benchmark:
        "results/benchmarks/environment.tsv"
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/environment.py"


rule determinism:
    input:
        runs=rules.aggregate.output.runs,
        predictions=rules.aggregate.output.predictions,
    output:
        repeats="results/tables/determinism.csv",
        devices="results/tables/devices.csv",
        figure=report(
            "results/figures/determinism.png",
            caption="../../report/determinism_figure.rst",
            category=RQ5,
            labels={"figure": "repeatability and devices"},
        ),
    log:
        "logs/determinism.log",
    benchmark:
        "results/benchmarks/determinism.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/determinism.py"
