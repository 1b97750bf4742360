rule dataset:
    output:
        npz="results/data/dataset.npz",
        manifest="results/data/manifest.json",
    log:
        "logs/dataset.log",
    benchmark:
        "results/benchmarks/dataset.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        dataset=config["dataset"],
    script:
        "../scripts/make_dataset.py"
