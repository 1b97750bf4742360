"""Snakemake → gapstudy.studies.catalogue.analysis: the runs, the arms, the traces and the ranked pitfall table."""

import json
from pathlib import Path

import pandas as pd

from gapstudy.studies.catalogue import analysis
from gapstudy.io import atomic_path, open_log

log = open_log(snakemake.log[0])
st = snakemake.params.statistics
runs = pd.concat([pd.read_csv(path) for path in snakemake.input.runs], ignore_index=True)
traces = [json.loads(Path(path).read_text()) for path in snakemake.input.traces]
by_arm = {(t["case"], t["arm"]): t for t in traces}
tables = {
    "runs": runs,
    "arms": analysis.arm_table(runs, st["confidence_level"]),
    "traces": pd.DataFrame(traces),
    "pitfalls": analysis.pitfall_table(runs, by_arm, st["confidence_level"], st["equivalence_margin"],
                                       st["alpha"], st["bootstrap_resamples"], st["bootstrap_seed"]),
}
for name, table in tables.items():
    with atomic_path(Path(snakemake.output[name])) as tmp:
        table.to_csv(tmp, index=False)
log(f"{len(runs)} runs, {len(traces)} traces, {len(tables['pitfalls'])} pitfalls")
