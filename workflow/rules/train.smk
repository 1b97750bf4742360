rule train:
    input:
        npz=reg.DATASET,
        manifest=reg.MANIFEST,
    output:
        # Every seed in one job (the framework is imported once, not once per seed),
        # one record each. A directory: how many seeds depends on the framework.
        runs=directory(reg.RECORDS),
    log:
        reg.log("train/{framework}/{variant}/draw{draw}/{device}"),
    benchmark:
        reg.benchmark("train/{framework}/{variant}/draw{draw}/{device}")
    priority: train_priority
    conda:
        "../envs/train.yaml"
    threads: config["threads_per_job"]
    resources:
        gpu=gpus,
        gpu_model=gpu_model,
        # A resource, not a param: it decides what a *failing* run leaves behind
        # (a failure record, or a failed job), never what a finished run computes,
        # so switching it must not retrain finished jobs. Rule aggregate, where it
        # is a param, refuses failure records while it is false.
        partial_results=int(config.get("partial_results", False)),
        # Also a resource: how many seeds train together changes no bit of any run (tests
        # show it for every path), only how much a killed job keeps; it must not retrain.
        stack_seeds=int(config.get("stack_seeds", 0)),
    params:
        seeds=job_seeds,
        records=job_records,
        # Finished seeds of a job that was killed, kept for its rerun (gapstudy.studies.seed.run.train_runs).
        resume_dir=reg.PARTIAL,
        repeat=config.get("repeat_runs", 0),
        switches=switches,
        hyperparameters=canonical(config["training"]),
        # Sums in a matmul depend on the thread count: another count, other bits.
        threads_per_job=config["threads_per_job"],
        code=train_code,
    script:
        "../scripts/train.py"
