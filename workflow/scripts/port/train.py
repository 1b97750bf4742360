"""Snakemake → gapstudy.studies.port.train: one arm of the port over its seeds, one CSV row per seed."""

import json
from pathlib import Path

import pandas as pd

from gapstudy.frameworks.runtime import limit_threads

limit_threads(snakemake.threads)

from gapstudy.frameworks import runtime  # noqa: E402
from gapstudy.io import atomic_path, open_log  # noqa: E402
from gapstudy.studies.port import sides, train  # noqa: E402

log = open_log(snakemake.log[0])
p = snakemake.params
findings = json.loads(Path(snakemake.input.findings).read_text())
rows = train.train_arm({"port": p.port}, p.arm, findings, sides.load_npz(snakemake.input.npz), p.seeds, log=log)
table = pd.DataFrame(rows).assign(threads=snakemake.threads, **runtime.version_columns())
with atomic_path(Path(snakemake.output.runs)) as tmp:
    table.to_csv(tmp, index=False)
log(f"{p.arm}: {len(rows)} seeds")
