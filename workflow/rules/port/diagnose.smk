# The lock-step trace of the port against Keras and the probes: which fixes
# the training arms apply is known once this has run (a checkpoint).
checkpoint port_diagnose:
    input:
        npz=P["dataset"],
    output:
        steps=P["trace_steps"],
        result=P["trace_result"],
        findings=P["findings"],
    log:
        f"{P['logs']}/diagnose.log",
    benchmark:
        f"{P['benchmarks']}/diagnose.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["threads_per_job"]
    params:
        port=port_config(),
        lockstep=canonical(config["lockstep"]),
        user_code=user_code(),
        threads_per_job=config["threads_per_job"],
        code=code("port/diagnose.py"),
    script:
        "../../scripts/port/diagnose.py"
