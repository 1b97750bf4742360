"""Snakemake → gapstudy.answer: the front page, in words generated from the tables."""

import json
from pathlib import Path

import pandas as pd

from gapstudy import answer
from gapstudy.io import atomic_write_text, open_log

log = open_log(snakemake.log[0])
inp = snakemake.input
tables = {name: pd.read_csv(inp[name]) for name in (
    "runs", "timings", "incomplete", "hypotheses", "summary", "comparison", "equivalence", "attribution", "identical", "across_frameworks",
    "repeats", "devices")}
# A file, or nothing where the config has no lock-step pairs.
lockstep = [inp.lockstep] if isinstance(inp.lockstep, str) else list(inp.lockstep)
tables["lockstep"] = pd.read_csv(lockstep[0]) if lockstep else None
crn = [inp.crn] if isinstance(inp.crn, str) else list(inp.crn)
tables["crn"] = pd.read_csv(crn[0]) if crn else None
draws = [inp.draws] if isinstance(inp.draws, str) else list(inp.draws)
tables["draws"] = pd.read_csv(draws[0]) if draws else None
environment = json.loads(Path(inp.environment).read_text())
atomic_write_text(Path(snakemake.output.answer), answer.front_page(tables, environment, snakemake.params.config))
log("wrote the front page")
