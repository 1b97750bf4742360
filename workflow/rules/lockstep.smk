rule lockstep:
    input:
        npz=reg.dataset(DRAW)[0],
        manifest=reg.dataset(DRAW)[1],
    output:
        steps=reg.LOCKSTEP.replace("{name}", "steps.csv"),
        result=reg.LOCKSTEP.replace("{name}", "result.json"),
        initial_weights=reg.LOCKSTEP.replace("{name}", "initial_weights.npz"),
        batch_orders=reg.LOCKSTEP.replace("{name}", "batch_orders.npy"),
    log:
        reg.log("lockstep/{pair}"),
    benchmark:
        reg.benchmark("lockstep/{pair}")
    conda:
        "../envs/train.yaml"
    threads: config["threads_per_job"]
    params:
        pair=lambda wc: canonical(config["lockstep"]["pairs"][wc.pair]),
        a_switches=lambda wc: lockstep_switches(wc, "a"),
        b_switches=lambda wc: lockstep_switches(wc, "b"),
        hyperparameters=canonical(config["training"]),
        seed=config["lockstep"]["seed"] if LOCKSTEP_PAIRS else None,
        threads_per_job=config["threads_per_job"],
        code=code("lockstep.py"),
    script:
        "../scripts/lockstep.py"


rule lockstep_table:
    input:
        results=expand(rules.lockstep.output.result, pair=LOCKSTEP_PAIRS),
        steps=expand(rules.lockstep.output.steps, pair=LOCKSTEP_PAIRS),
    output:
        table=reg.table("lockstep"),
        steps=reg.table("lockstep_steps"),
    log:
        reg.log("lockstep_table"),
    benchmark:
        reg.benchmark("lockstep_table")
    conda:
        "../envs/analysis.yaml"
    params:
        pairs=LOCKSTEP_PAIRS,
        tolerance=config["lockstep"]["tolerance"] if LOCKSTEP_PAIRS else None,
        code=code("lockstep_table.py"),
    script:
        "../scripts/lockstep_table.py"
