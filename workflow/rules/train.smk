rule train:
    input:
        npz=rules.dataset.output.npz,
        manifest=rules.dataset.output.manifest,
    output:
        # Every seed in one job: the framework is imported once, not once per seed.
        records=expand(
            "results/runs/{{framework}}/{{variant}}/{{device}}/seed{seed}.json",
            seed=config["seeds"],
        ),
    log:
        "logs/train/{framework}/{variant}/{device}.log",
    benchmark:
        "results/benchmarks/train/{framework}/{variant}/{device}.tsv"
    conda:
        "../envs/train.yaml"
    threads: config["threads_per_job"]
    resources:
        gpu=gpus,
    params:
        seeds=config["seeds"],
        repeat=config.get("repeat_runs", 0),
        switches=switches,
        hyperparameters=config["training"],
    script:
        "../scripts/train.py"
