# One job per case traces every arm of cat.traced_arms(case) (the fixed port and each pitfall) in one
# process: the arms share its imports of both frameworks and its data. A changed arm of a case retraces
# the case.
rule catalogue_lockstep:
    input:
        npz=case_dataset,
    output:
        traces=directory(paths.TRACES),
    log:
        paths.log("lockstep/{case}"),
    benchmark:
        paths.benchmark("lockstep/{case}")
    conda:
        "../../envs/train.yaml"
    threads: config["threads_per_job"]
    params:
        case=lambda wc: wc.case,
        arms=lambda wc: list(cat.traced_arms(wc.case)),
        switches=traced_switches,
        fixed_switches=lambda wc: canonical(cat.arm_switches(wc.case, cat.FIXED)),
        settings=case_settings,
        lockstep=canonical(config["lockstep"]),
        threads_per_job=config["threads_per_job"],
        code=code("catalogue/lockstep.py"),
    script:
        "../../scripts/catalogue/lockstep.py"
