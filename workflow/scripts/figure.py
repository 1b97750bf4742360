"""Snakemake → gapstudy.studies.seed.figures: draw the figure named by the rule's params from its tables."""

from pathlib import Path

import pandas as pd

from gapstudy.studies.seed import figures
from gapstudy.io import atomic_path, open_log

log = open_log(snakemake.log[0])
tables = [pd.read_csv(path) for path in snakemake.input.tables]
with atomic_path(Path(snakemake.output[0])) as tmp:
    getattr(figures, snakemake.params.figure)(*tables, path=tmp, intervals=snakemake.params.intervals)
log(f"drew {snakemake.params.figure} from {', '.join(str(len(t)) for t in tables)} rows")
