"""Snakemake → gapstudy.studies.seed.aggregate: tidy tables of runs, epochs and predictions."""

from pathlib import Path

from gapstudy.studies.seed.aggregate import tables
from gapstudy.studies.seed.data import load_dataset
from gapstudy.io import atomic_path, open_log

log = open_log(snakemake.log[0])
dataset = load_dataset(snakemake.input.npz, snakemake.input.manifest)
for name, table in tables(snakemake.params.records, dataset.y_val, partial=snakemake.params.partial).items():
    with atomic_path(Path(snakemake.output[name])) as tmp:
        table.to_csv(tmp, index=False)
    log(f"{name}: {len(table)} rows")
