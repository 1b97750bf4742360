"""Snakemake → gapstudy.report.provenance: config, code, versions, devices and training time."""

import json
from pathlib import Path

import pandas as pd

from gapstudy.report import provenance
from gapstudy.io import atomic_write_json, atomic_write_text, open_log

log = open_log(snakemake.log[0])
runs, timings = pd.read_csv(snakemake.input.runs), pd.read_csv(snakemake.input.timings)
environment = json.loads(Path(snakemake.input.environment).read_text())
config = snakemake.params.config
prov = provenance.provenance(runs, timings, config, environment)
atomic_write_json(Path(snakemake.output.json), prov)
atomic_write_text(Path(snakemake.output.html), provenance.provenance_html(prov, config))
log("wrote the provenance")
