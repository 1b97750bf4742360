"""Snakemake → gapstudy.studies.catalogue.run: the arms of one side of one case over their seeds, one CSV
row per arm and seed."""

from pathlib import Path

import pandas as pd

from gapstudy.frameworks.runtime import limit_threads

limit_threads(snakemake.threads)

from gapstudy.frameworks import runtime  # noqa: E402
from gapstudy.studies.catalogue import data, run  # noqa: E402
from gapstudy.io import atomic_path, open_log  # noqa: E402

log = open_log(snakemake.log[0])
p = snakemake.params
arrays = data.load(snakemake.input.npz)
rows = []
for arm in p.arms:
    rows += run.train_arm(p.case, arm, arrays, p.seeds, p.epochs, log=log)
    log(f"{p.case}/{arm}: {len(p.seeds)} seeds done")
table = pd.DataFrame(rows).assign(threads=snakemake.threads, **runtime.version_columns())
with atomic_path(Path(snakemake.output.runs)) as tmp:
    table.to_csv(tmp, index=False)
log(f"{p.case}/{p.side}: {len(p.arms)} arms, {len(rows)} rows")
