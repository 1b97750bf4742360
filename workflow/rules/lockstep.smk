rule lockstep:
    input:
        npz=rules.dataset.output.npz,
        manifest=rules.dataset.output.manifest,
    output:
        steps="results/lockstep/{pair}/steps.csv",
        summary="results/lockstep/{pair}/summary.json",
        initial_weights="results/lockstep/{pair}/initial_weights.npz",
        batch_orders="results/lockstep/{pair}/batch_orders.npy",
    log:
        "logs/lockstep/{pair}.log",
    benchmark:
        "results/benchmarks/lockstep/{pair}.tsv"
    conda:
        "../envs/train.yaml"
    threads: config["threads_per_job"]
    params:
        pair=lambda wc: config["lockstep"]["pairs"][wc.pair],
        torch_switches=lambda wc: lockstep_switches(wc, "torch"),
        keras_switches=lambda wc: lockstep_switches(wc, "keras"),
        hyperparameters=config["training"],
        seed=lambda wc: config["lockstep"]["seed"],
        tolerance=lambda wc: config["lockstep"]["tolerance"],
    script:
        "../scripts/lockstep.py"


rule lockstep_table:
    input:
        summaries=expand(rules.lockstep.output.summary, pair=LOCKSTEP_PAIRS),
        steps=expand(rules.lockstep.output.steps, pair=LOCKSTEP_PAIRS),
    output:
        table="results/tables/lockstep.csv",
        html=report(
            "results/report/lockstep.html",
            caption="../../report/lockstep.rst",
            category=RQ4,
            labels={"table": "lock-step: first step apart, largest difference"},
        ),
        figure=report(
            "results/figures/lockstep_drift.png",
            caption="../../report/lockstep_drift.rst",
            category=RQ4,
            labels={"figure": "lock-step drift over steps"},
        ),
    log:
        "logs/lockstep_table.log",
    benchmark:
        "results/benchmarks/lockstep_table.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        pairs=LOCKSTEP_PAIRS,
    script:
        "../scripts/lockstep_table.py"
