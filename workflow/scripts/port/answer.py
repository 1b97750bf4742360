"""Snakemake → gapstudy.studies.port.answer: the front page, in words and the ranked causes, from the tables."""

from pathlib import Path

import pandas as pd

from gapstudy.io import atomic_write_text, open_log
from gapstudy.studies.port import answer

log = open_log(snakemake.log[0])
tables = {name: pd.read_csv(snakemake.input[name]) for name in ("verdict", "causes", "arms", "runs")}
runs = tables["runs"]
# The versions the training jobs recorded, not this machine's now.
versions = {name: sorted(runs[name].dropna().astype(str).unique()) for name in ("torch", "tensorflow", "keras")}
atomic_write_text(Path(snakemake.output.front), answer.front_page(tables["verdict"], tables["causes"], tables["arms"],
                                                                 snakemake.params.config, versions))
log(f"wrote the front page: {len(tables['causes'])} causes")
