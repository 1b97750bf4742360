"""Snakemake → gapstudy.report.timing: run time per rule and framework from benchmark files."""

from pathlib import Path

from gapstudy.report import timing
from gapstudy.io import atomic_path, open_log

log = open_log(snakemake.log[0])
jobs = timing.read_benchmarks(snakemake.params.benchmarks, Path(snakemake.params.root))
with atomic_path(Path(snakemake.output.table)) as tmp:
    timing.summarise(jobs).to_csv(tmp, index=False)
log(f"summarised {len(jobs)} benchmark files")
