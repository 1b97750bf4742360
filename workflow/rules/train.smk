rule train:
    input:
        npz=rules.dataset.output.npz,
        manifest=rules.dataset.output.manifest,
    output:
        # Every seed in one job (the framework is imported once, not once per seed),
        # one seed{N}.json each. A directory: how many seeds depends on the framework.
        runs=directory("results/runs/{framework}/{variant}/{device}"),
    log:
        "logs/train/{framework}/{variant}/{device}.log",
    benchmark:
        "results/benchmarks/train/{framework}/{variant}/{device}.tsv"
    priority: train_priority
    conda:
        "../envs/train.yaml"
    threads: config["threads_per_job"]
    resources:
        gpu=gpus,
        gpu_model=gpu_model,
    params:
        seeds=job_seeds,
        # Finished seeds of a job that was killed, kept for its rerun (gapstudy.run.train_runs).
        resume_dir="results/partial/{framework}/{variant}/{device}",
        repeat=config.get("repeat_runs", 0),
        switches=switches,
        hyperparameters=config["training"],
    script:
        "../scripts/train.py"
