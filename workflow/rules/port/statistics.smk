rule port_statistics:
    input:
        runs=run_tables,
        result=P["trace_result"],
        steps=P["trace_steps"],
        findings=P["findings"],
    output:
        runs=port_paths.table(NAME, "runs"),
        arms=port_paths.table(NAME, "arms"),
        causes=port_paths.table(NAME, "causes"),
        verdict=port_paths.table(NAME, "verdict"),
        trace=port_paths.table(NAME, "trace"),
    log:
        f"{P['logs']}/statistics.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        name=NAME,
        statistics=canonical(config["statistics"]),
        code=code("port/statistics.py"),
    script:
        "../../scripts/port/statistics.py"
