rule catalogue_lockstep:
    input:
        npz=case_dataset,
    output:
        steps=paths.TRACE_STEPS,
        result=paths.TRACE_RESULT,
    log:
        paths.log("lockstep/{case}/{arm}"),
    benchmark:
        paths.benchmark("lockstep/{case}/{arm}")
    conda:
        "../../envs/train.yaml"
    threads: config["threads_per_job"]
    params:
        case=lambda wc: wc.case,
        arm=lambda wc: wc.arm,
        switches=arm_switches,
        fixed_switches=lambda wc: canonical(cat.arm_switches(wc.case, cat.FIXED)),
        settings=case_settings,
        lockstep=canonical(config["lockstep"]),
        threads_per_job=config["threads_per_job"],
        code=code("catalogue/lockstep.py"),
    script:
        "../../scripts/catalogue/lockstep.py"
