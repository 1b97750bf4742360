"""Snakemake → gapstudy.runtime: the software of this machine, and the versions the catalogue names."""

from pathlib import Path

from gapstudy import runtime
from gapstudy.io import atomic_write_json, open_log

log = open_log(snakemake.log[0])
atomic_write_json(Path(snakemake.output[0]), runtime.environment() | {"versions": runtime.versions()})
log("wrote the software and devices of this machine")
