rule train:
    input:
        npz=rules.dataset.output.npz,
        manifest=rules.dataset.output.manifest,
    output:
        record="results/runs/{framework}/{variant}/{device}/seed{seed}.json",
    log:
        "logs/train/{framework}/{variant}/{device}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{framework}/{variant}/{device}/seed{seed}.tsv"
    conda:
        "../envs/train.yaml"
    threads: config["threads_per_job"]
    resources:
        gpu=gpus,
    params:
        switches=switches,
        hyperparameters=config["training"],
    script:
        "../scripts/train.py"
