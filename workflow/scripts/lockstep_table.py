"""Snakemake → gapstudy.studies.seed.lockstep: the lock-step table (first step apart at the tolerance) and all steps."""

import json
from pathlib import Path

import pandas as pd

from gapstudy.studies.seed import lockstep
from gapstudy.io import atomic_path, open_log

log = open_log(snakemake.log[0])
steps = {pair: pd.read_csv(path) for pair, path in zip(snakemake.params.pairs, snakemake.input.steps)}
rows = []
for pair, path in zip(snakemake.params.pairs, snakemake.input.results):
    result = json.loads(Path(path).read_text())
    rows.append(lockstep.summary_row(result, steps[pair], snakemake.params.tolerance))
tables = {"table": pd.DataFrame(rows),
          "steps": pd.concat([t.assign(pair=pair) for pair, t in steps.items()], ignore_index=True)}
for name, table in tables.items():
    with atomic_path(Path(snakemake.output[name])) as tmp:
        table.to_csv(tmp, index=False, float_format="%.17g" if name == "steps" else None)
log(f"{len(rows)} lock-step pairs")
