"""Snakemake → gapstudy.catalogue.answer: the front page, in words and the ranked table, from the tables."""

import json
from pathlib import Path

import pandas as pd

from gapstudy.catalogue import answer
from gapstudy.io import atomic_write_text, open_log

log = open_log(snakemake.log[0])
table = pd.read_csv(snakemake.input.pitfalls)
environment = json.loads(Path(snakemake.input.environment).read_text())
atomic_write_text(Path(snakemake.output.front), answer.front_page(table, snakemake.params.config, environment))
log(f"wrote the front page: {len(table)} pitfalls")
