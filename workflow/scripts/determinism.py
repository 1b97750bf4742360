"""Snakemake → gapstudy.statistics.determinism: repeatability per job, and CPU against other devices."""

from pathlib import Path

import pandas as pd

from gapstudy.statistics import determinism
from gapstudy.io import atomic_path, open_log

log = open_log(snakemake.log[0])
runs = pd.read_csv(snakemake.input.runs)
tables = {
    "repeats": determinism.repeat_table(runs),
    "devices": determinism.device_table(pd.read_csv(snakemake.input.predictions), runs),
}
for name, table in tables.items():
    with atomic_path(Path(snakemake.output[name])) as tmp:
        table.to_csv(tmp, index=False)
log(f"{len(tables['repeats'])} repeat groups, {len(tables['devices'])} cross-device pairs")
