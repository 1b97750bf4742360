"""Snakemake → gapstudy.statistics.stats: the declared hypotheses tested again on other draws of the dataset."""

from pathlib import Path

from gapstudy.statistics import stats
from gapstudy.studies.seed.aggregate import runs_table
from gapstudy.io import atomic_path, open_log

log = open_log(snakemake.log[0])
params = snakemake.params
runs = {int(draw): runs_table(paths) for draw, paths in params.records.items()}
table = stats.draws_table(runs, params.hypotheses, params.reference, params.margin, params.alpha,
                          params.study_draw)
with atomic_path(Path(snakemake.output.table)) as tmp:
    table.to_csv(tmp, index=False)
log(f"{len(runs)} draws, {len(table)} rows")
