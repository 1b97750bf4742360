rule aggregate:
    input:
        jobs=train_jobs(),
        npz=rules.dataset.output.npz,
        manifest=rules.dataset.output.manifest,
    output:
        runs=reg.table("runs"),
        epochs=reg.table("epochs"),
        predictions=reg.table("predictions"),
        timings=reg.table("timings"),
        missing=reg.table("missing"),
        incomplete=reg.table("incomplete"),
    log:
        reg.log("aggregate"),
    benchmark:
        reg.benchmark("aggregate")
    conda:
        "../envs/analysis.yaml"
    params:
        records=run_records(),
        partial=bool(config.get("partial_results", False)),
        code=code("aggregate.py"),
    script:
        "../scripts/aggregate.py"


rule statistics:
    input:
        runs=rules.aggregate.output.runs,
    output:
        summary=reg.table("summary"),
        comparison=reg.table("comparison"),
        equivalence=reg.table("equivalence"),
        attribution=reg.table("attribution"),
    log:
        reg.log("statistics"),
    benchmark:
        reg.benchmark("statistics")
    conda:
        "../envs/analysis.yaml"
    params:
        reference=canonical(config["reference"]),
        statistics=canonical(config["statistics"]),
        # Attribution compares each variant with its baseline, switch by switch.
        variants=canonical(
            {
                name: {k: spec.get(k) for k in ("baseline", "switches")}
                for name, spec in config["variants"].items()
            }
        ),
        training=canonical(config["training"]),
        code=code("statistics.py"),
    script:
        "../scripts/statistics.py"


rule environment:
    output:
        reg.ENVIRONMENT,
    log:
        reg.log("environment"),
    benchmark:
        reg.benchmark("environment")
    conda:
        "../envs/train.yaml"
    params:
        code=code("environment.py"),
    script:
        "../scripts/environment.py"


rule determinism:
    input:
        runs=rules.aggregate.output.runs,
        predictions=rules.aggregate.output.predictions,
    output:
        repeats=reg.table("determinism"),
        devices=reg.table("devices"),
    log:
        reg.log("determinism"),
    benchmark:
        reg.benchmark("determinism")
    conda:
        "../envs/analysis.yaml"
    params:
        code=code("determinism.py"),
    script:
        "../scripts/determinism.py"
