rule port_dataset:
    output:
        npz=P["dataset"],
    log:
        f"{P['logs']}/dataset.log",
    conda:
        "../../envs/train.yaml"
    params:
        port=port_config(),
        user_code=user_code(),
        code=code("port/dataset.py"),
    script:
        "../../scripts/port/dataset.py"
