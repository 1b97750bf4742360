"""Snakemake → gapstudy.studies.catalogue.figures: one figure of the catalogue from the pitfall table."""

from pathlib import Path

import pandas as pd

from gapstudy.studies.catalogue import figures
from gapstudy.io import atomic_path, open_log

log = open_log(snakemake.log[0])
table = pd.read_csv(snakemake.input.pitfalls)
with atomic_path(Path(snakemake.output[0])) as tmp:
    getattr(figures, snakemake.wildcards.figure)(table, tmp, snakemake.params.level)
log(f"drew {snakemake.wildcards.figure} from {len(table)} pitfalls")
