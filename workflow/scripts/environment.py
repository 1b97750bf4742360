"""Snakemake → gapstudy.frameworks.runtime: the software and devices of this machine."""

from pathlib import Path

from gapstudy.frameworks import runtime
from gapstudy.io import atomic_write_json, open_log

log = open_log(snakemake.log[0])
atomic_write_json(Path(snakemake.output[0]), runtime.environment())
log("wrote the software and devices of this machine")
