"""Snakemake → gapstudy.report.pages: one table of the report as an HTML page."""

from pathlib import Path

import pandas as pd

from gapstudy.report import pages
from gapstudy.io import atomic_write_text, open_log

log = open_log(snakemake.log[0])
table = pd.read_csv(snakemake.input.table)
atomic_write_text(Path(snakemake.output[0]),
                  pages.html_table(table, snakemake.params.title, snakemake.params.caption))
log(f"{snakemake.wildcards.page}: {len(table)} rows")
