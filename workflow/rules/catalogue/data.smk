rule catalogue_dataset:
    output:
        npz=paths.DATASET,
    log:
        paths.log("dataset/{dataset}"),
    benchmark:
        paths.benchmark("dataset/{dataset}")
    conda:
        "../../envs/analysis.yaml"
    params:
        split_seed=config["catalogue"]["split_seed"],
        code=code("catalogue/dataset.py"),
    script:
        "../../scripts/catalogue/dataset.py"
