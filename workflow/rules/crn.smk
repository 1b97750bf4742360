# Common random numbers: each side of a pair in its own job (Keras' backend is
# fixed per process), every seed from the same draws; then the paired table.


rule crn:
    input:
        npz=reg.dataset(DRAW)[0],
        manifest=reg.dataset(DRAW)[1],
    output:
        reg.CRN,
    log:
        reg.log("crn/{pair}/{side}"),
    benchmark:
        reg.benchmark("crn/{pair}/{side}")
    wildcard_constraints:
        side="a|b",
    conda:
        "../envs/train.yaml"
    threads: config["threads_per_job"]
    params:
        side=lambda wc: canonical(config["crn"]["pairs"][wc.pair][wc.side]),
        switches=crn_switches,
        draw_switches=crn_draw_switches,
        hyperparameters=canonical(config["training"]),
        seeds=(config.get("crn") or {}).get("seeds"),
        threads_per_job=config["threads_per_job"],
        code=code("crn.py"),
    script:
        "../scripts/crn.py"


rule crn_table:
    input:
        sides=expand(reg.CRN, pair=CRN_PAIRS, side=("a", "b")),
    output:
        table=reg.table("crn"),
    log:
        reg.log("crn_table"),
    benchmark:
        reg.benchmark("crn_table")
    conda:
        "../envs/analysis.yaml"
    params:
        pairs=canonical((config.get("crn") or {}).get("pairs", {})),
        level=config["statistics"]["confidence_level"],
        margin=config["statistics"]["equivalence_margin"],
        alpha=config["statistics"]["equivalence_alpha"],
        code=code("crn_table.py"),
    script:
        "../scripts/crn_table.py"
