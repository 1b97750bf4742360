# One arm of the port over one job's seeds (port.seeds_per_job): keras (fit),
# port (the user's loop), fixed (every fix), and each fix alone.
rule port_train:
    input:
        npz=P["dataset"],
        findings=P["findings"],
    output:
        runs=P["runs"],
    log:
        f"{P['logs']}/train/{{arm}}/job{{job}}.log",
    benchmark:
        f"{P['benchmarks']}/train/{{arm}}/job{{job}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["threads_per_job"]
    params:
        port=port_config(),
        arm=lambda wc: wc.arm,
        seeds=job_seeds,
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
