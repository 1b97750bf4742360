rule dataset:
    output:
        npz="results/data/dataset.npz",
        manifest="results/data/manifest.json",
    params:
        dataset=config["dataset"],
    log:
        "logs/dataset.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_dataset.py"
