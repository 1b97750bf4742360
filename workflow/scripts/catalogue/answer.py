"""Snakemake → gapstudy.studies.catalogue.answer: the front page, in words and the ranked table, from the tables."""

from pathlib import Path

import pandas as pd

from gapstudy.studies.catalogue import answer
from gapstudy.io import atomic_write_text, open_log

log = open_log(snakemake.log[0])
table = pd.read_csv(snakemake.input.pitfalls)
runs = pd.read_csv(snakemake.input.runs)
# The versions the training jobs recorded, not this machine's now.
versions = {name: sorted(runs[name].dropna().astype(str).unique()) for name in ("torch", "tensorflow", "keras")}
atomic_write_text(Path(snakemake.output.front), answer.front_page(table, snakemake.params.config, versions))
log(f"wrote the front page: {len(table)} pitfalls")
