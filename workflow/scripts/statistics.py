"""Snakemake → gapstudy.statistics.stats: summary over seeds and comparison with the reference."""

from pathlib import Path

import pandas as pd

from gapstudy.statistics import stats
from gapstudy.io import atomic_path, open_log

log = open_log(snakemake.log[0])
params = snakemake.params
runs = pd.read_csv(snakemake.input.runs)
for name, table in stats.tables(runs, params.reference, params.statistics, params.variants,
                                       params.training, params.hypotheses).items():
    with atomic_path(Path(snakemake.output[name])) as tmp:
        table.to_csv(tmp, index=False)
    log(f"{name}: {len(table)} rows")
