"""Snakemake → gapstudy.timing: run time per rule and framework from benchmark files."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from gapstudy import report, timing  # noqa: E402
from gapstudy.io import atomic_path, atomic_write_text, open_log  # noqa: E402

log = open_log(snakemake.log[0])
jobs = timing.read_benchmarks(snakemake.params.benchmarks, Path(snakemake.params.root))
table = timing.summarise(jobs)
with atomic_path(Path(snakemake.output.table)) as tmp:
    table.to_csv(tmp, index=False)
atomic_write_text(
    Path(snakemake.output.html),
    report.html_table(table, "Run time per rule and framework", f"{len(jobs)} jobs."),
)
log(f"summarised {len(jobs)} benchmark files")
