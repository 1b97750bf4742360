rule catalogue_statistics:
    input:
        runs=run_tables(),
        traces=trace_dirs(),
    output:
        runs=paths.table("runs"),
        arms=paths.table("arms"),
        traces=paths.table("traces"),
        pitfalls=paths.table("pitfalls"),
    log:
        paths.log("statistics"),
    benchmark:
        paths.benchmark("statistics")
    conda:
        "../../envs/analysis.yaml"
    params:
        statistics=canonical(config["statistics"]),
        code=code("catalogue/statistics.py"),
    script:
        "../../scripts/catalogue/statistics.py"


rule catalogue_environment:
    output:
        paths.ENVIRONMENT,
    log:
        paths.log("environment"),
    conda:
        "../../envs/train.yaml"
    params:
        code=code("environment.py"),
    script:
        "../../scripts/environment.py"
