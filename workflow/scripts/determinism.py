"""Snakemake → gapstudy.determinism: repeatability per job, and CPU against other devices."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

import pandas as pd  # noqa: E402

from gapstudy import determinism, figures  # noqa: E402
from gapstudy.io import atomic_path, open_log  # noqa: E402

log = open_log(snakemake.log[0])
runs = pd.read_csv(snakemake.input.runs)
tables = {
    "repeats": determinism.repeat_table(runs),
    "devices": determinism.device_table(pd.read_csv(snakemake.input.predictions), runs),
}
for name, table in tables.items():
    with atomic_path(Path(snakemake.output[name])) as tmp:
        table.to_csv(tmp, index=False)
with atomic_path(Path(snakemake.output.figure)) as tmp:
    figures.determinism(tables["repeats"], tables["devices"], tmp)
log(f"{len(tables['repeats'])} repeat groups, {len(tables['devices'])} cross-device pairs")
