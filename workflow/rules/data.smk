rule dataset:
    output:
        npz=reg.DATASET,
        manifest=reg.MANIFEST,
    log:
        reg.log("dataset"),
    benchmark:
        reg.benchmark("dataset")
    conda:
        "../envs/analysis.yaml"
    params:
        dataset=canonical(config["dataset"]),
        code=code("make_dataset.py"),
    script:
        "../scripts/make_dataset.py"
