"""Snakemake → gapstudy.pages: one table of the catalogue as an HTML page of the report."""

from pathlib import Path

import pandas as pd

from gapstudy import pages
from gapstudy.io import atomic_write_text, open_log

log = open_log(snakemake.log[0])
table = pd.read_csv(snakemake.input.table)
atomic_write_text(Path(snakemake.output[0]), pages.html_table(table, snakemake.params.title, snakemake.params.caption))
log(f"{snakemake.wildcards.page}: {len(table)} rows")
