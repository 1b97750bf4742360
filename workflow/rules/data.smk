rule dataset:
    output:
        npz=reg.DATASET,
        manifest=reg.MANIFEST,
    log:
        reg.log("dataset/draw{draw}"),
    benchmark:
        reg.benchmark("dataset/draw{draw}")
    conda:
        "../envs/analysis.yaml"
    params:
        # The study's draw is config dataset.seed; dataset_draws.seeds are the others.
        dataset=lambda wc: canonical(config["dataset"] | {"seed": int(wc.draw)}),
        code=code("make_dataset.py"),
    script:
        "../scripts/make_dataset.py"
