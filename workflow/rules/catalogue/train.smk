rule catalogue_train:
    input:
        npz=case_dataset,
    output:
        runs=paths.RUNS,
    log:
        paths.log("train/{case}/{arm}"),
    benchmark:
        paths.benchmark("train/{case}/{arm}")
    conda:
        "../../envs/train.yaml"
    threads: config["threads_per_job"]
    params:
        case=lambda wc: wc.case,
        arm=lambda wc: wc.arm,
        switches=arm_switches,
        settings=case_settings,
        seeds=config["catalogue"]["seeds"],
        epochs=config["catalogue"]["epochs"],
        # Sums in a matmul depend on the thread count: another count, other bits.
        threads_per_job=config["threads_per_job"],
        code=train_code,
    script:
        "../../scripts/catalogue/train.py"
