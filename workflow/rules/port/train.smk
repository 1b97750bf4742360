# One arm of the port over its seeds: keras (fit), port (the user's loop),
# fixed (every fix), and each fix alone.
rule port_train:
    input:
        npz=P["dataset"],
        findings=P["findings"],
    output:
        runs=P["runs"],
    log:
        f"{P['logs']}/train/{{arm}}.log",
    benchmark:
        f"{P['benchmarks']}/train/{{arm}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["threads_per_job"]
    params:
        port=port_config(),
        arm=lambda wc: wc.arm,
        seeds=PORT["seeds"],
        user_code=user_code(),
        # Sums in a matmul depend on the thread count: another count, other bits.
        threads_per_job=config["threads_per_job"],
        code=code("port/train.py"),
    script:
        "../../scripts/port/train.py"


rule port_environment:
    output:
        P["environment"],
    log:
        f"{P['logs']}/environment.log",
    conda:
        "../../envs/train.yaml"
    params:
        code=code("environment.py"),
    script:
        "../../scripts/environment.py"
