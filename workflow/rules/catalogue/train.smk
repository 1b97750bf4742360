# One job per case and side (run.SIDES): the Keras reference, or every PyTorch arm of the case.
rule catalogue_train:
    input:
        npz=case_dataset,
    output:
        runs=paths.RUNS,
    log:
        paths.log("train/{case}/{side}"),
    benchmark:
        paths.benchmark("train/{case}/{side}")
    conda:
        "../../envs/train.yaml"
    threads: config["threads_per_job"]
    params:
        case=lambda wc: wc.case,
        side=lambda wc: wc.side,
        arms=lambda wc: list(catalogue_run.side_arms(wc.case, wc.side)),
        switches=side_switches,
        settings=case_settings,
        seeds=config["catalogue"]["seeds"],
        epochs=config["catalogue"]["epochs"],
        # Sums in a matmul depend on the thread count: another count, other bits.
        threads_per_job=config["threads_per_job"],
        code=train_code,
    script:
        "../../scripts/catalogue/train.py"
