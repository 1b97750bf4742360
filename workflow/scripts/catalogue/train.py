"""Snakemake → gapstudy.studies.catalogue.run: one arm of one case over its seeds, one CSV row per seed."""

from pathlib import Path

import pandas as pd

from gapstudy.frameworks.runtime import limit_threads

limit_threads(snakemake.threads)

from gapstudy.frameworks import runtime  # noqa: E402
from gapstudy.studies.catalogue import data, run  # noqa: E402
from gapstudy.io import atomic_path, open_log  # noqa: E402

log = open_log(snakemake.log[0])
p = snakemake.params
rows = run.train_arm(p.case, p.arm, data.load(snakemake.input.npz), p.seeds, p.epochs, log=log)
table = pd.DataFrame(rows).assign(threads=snakemake.threads, **runtime.version_columns())
with atomic_path(Path(snakemake.output.runs)) as tmp:
    table.to_csv(tmp, index=False)
log(f"{p.case}/{p.arm}: {len(rows)} seeds")
