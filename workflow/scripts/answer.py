"""Snakemake → gapstudy.studies.seed.answer: the front page, in words generated from the tables."""

import json
from pathlib import Path

import pandas as pd

from gapstudy.studies.seed import answer
from gapstudy.io import atomic_write_text, open_log

log = open_log(snakemake.log[0])
inp = snakemake.input
tables = {name: pd.read_csv(inp[name]) for name in (
    "runs", "timings", "incomplete", "hypotheses", "summary", "comparison", "equivalence", "attribution", "identical", "across_frameworks",
    "repeats", "devices")}
# A file each, or nothing where the config has no lock-step or common-random-numbers pairs or other draws.
for name in ("lockstep", "crn", "draws"):
    paths = [inp[name]] if isinstance(inp[name], str) else list(inp[name])
    tables[name] = pd.read_csv(paths[0]) if paths else None
environment = json.loads(Path(inp.environment).read_text())
figures = [Path(inp[name]).read_bytes() for name in ("figure", "figure_phone")]
atomic_write_text(Path(snakemake.output.answer),
                  answer.front_page(tables, environment, snakemake.params.config, *figures))
log("wrote the front page")
