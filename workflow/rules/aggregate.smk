rule aggregate:
    input:
        jobs=train_jobs(),
        npz=reg.dataset(DRAW)[0],
        manifest=reg.dataset(DRAW)[1],
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
        hypotheses=reg.table("hypotheses"),
        summary=reg.table("summary"),
        comparison=reg.table("comparison"),
        equivalence=reg.table("equivalence"),
        attribution=reg.table("attribution"),
        paired_differences=reg.table("paired_differences"),
        identical=reg.table("identical"),
        across_frameworks=reg.table("across_frameworks"),
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
                name: {k: spec.get(k) for k in ("baseline", "question", "switches")}
                for name, spec in config["variants"].items()
            }
        ),
        training=canonical(config["training"]),
        hypotheses=canonical(
            {
                name: {k: spec[k] for k in ("claim", "framework", "variant")}
                for name, spec in (config.get("hypotheses") or {}).items()
            }
        ),
        code=code("statistics.py"),
    script:
        "../scripts/statistics.py"


rule draws:
    input:
        jobs=train_jobs(draw_arm_runs()),
    output:
        table=reg.table("draws"),
    log:
        reg.log("draws"),
    benchmark:
        reg.benchmark("draws")
    conda:
        "../envs/analysis.yaml"
    params:
        records=draw_records(),
        study_draw=DRAW,
        reference=canonical(config["reference"]),
        hypotheses=canonical(
            {
                name: {
                    k: config["hypotheses"][name][k]
                    for k in ("claim", "framework", "variant")
                }
                for name in (config.get("dataset_draws") or {}).get("hypotheses", [])
            }
        ),
        margin=config["statistics"]["equivalence_margin"],
        alpha=config["statistics"]["equivalence_alpha"],
        code=code("draws.py"),
    script:
        "../scripts/draws.py"


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
