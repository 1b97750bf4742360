"""Snakemake → gapstudy.studies.port.analysis: the runs, the arms, the ranked causes, the verdict, the trace."""

import json
from pathlib import Path

import pandas as pd

from gapstudy.io import atomic_path, open_log
from gapstudy.studies.port import analysis

log = open_log(snakemake.log[0])
st = snakemake.params.statistics
runs = pd.concat([pd.read_csv(path) for path in snakemake.input.runs], ignore_index=True)
result = json.loads(Path(snakemake.input.result).read_text())
findings = json.loads(Path(snakemake.input.findings).read_text())
steps = pd.read_csv(snakemake.input.steps)
tables = {
    "runs": runs,
    "arms": analysis.arm_table(runs, st["confidence_level"]),
    "causes": analysis.cause_table(runs, findings, st["confidence_level"], st["alpha"]),
    "verdict": analysis.verdict(runs, result, findings, snakemake.params.name, st["equivalence_margin"],
                                st["alpha"], st["confidence_level"]),
    "trace": analysis.trace_table(steps, result),
}
for name, table in tables.items():
    with atomic_path(Path(snakemake.output[name])) as tmp:
        table.to_csv(tmp, index=False)
log(f"{len(runs)} runs, {len(findings)} findings")
