"""Snakemake → gapstudy.studies.catalogue.analysis: the runs, the arms, the traces and the ranked pitfall table."""

import json
from pathlib import Path

import pandas as pd

from gapstudy.studies.catalogue import analysis, cases, paths
from gapstudy.io import atomic_path, open_log

log = open_log(snakemake.log[0])
st = snakemake.params.statistics
runs = pd.concat([pd.read_csv(path) for path in snakemake.input.runs], ignore_index=True)
# One folder per case (paths.TRACES), its arms in the registry's order.
traces = [json.loads(Path(paths.TRACE_RESULT.format(case=Path(folder).name, arm=arm)).read_text())
          for folder in snakemake.input.traces for arm in cases.traced_arms(Path(folder).name)]
by_arm = {(t["case"], t["arm"]): t for t in traces}
tables = {
    "runs": runs,
    "arms": analysis.arm_table(runs, st["confidence_level"]),
    "traces": pd.DataFrame(traces),
    "pitfalls": analysis.pitfall_table(runs, by_arm, st["confidence_level"], st["equivalence_margin"],
                                       st["alpha"], st["bootstrap_resamples"], st["bootstrap_seed"]),
}
# What the user sees is written from the measured signs; a table that contradicts one is not written.
wrong = analysis.contradictions(tables["pitfalls"])
if wrong:
    raise RuntimeError("symptom sentences contradict their measured signs: " + "; ".join(wrong))
for name, table in tables.items():
    with atomic_path(Path(snakemake.output[name])) as tmp:
        table.to_csv(tmp, index=False)
log(f"{len(runs)} runs, {len(traces)} traces, {len(tables['pitfalls'])} pitfalls")
