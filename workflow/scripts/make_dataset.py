"""Snakemake → gapstudy.studies.seed.data: write the user's arrays and their manifest."""

from pathlib import Path

from gapstudy.studies.seed.data import make_dataset, save_dataset
from gapstudy.io import open_log

log = open_log(snakemake.log[0])
params = dict(snakemake.params.dataset)
dataset = make_dataset(**params)
save_dataset(dataset, Path(snakemake.output.npz), Path(snakemake.output.manifest), params)
log(f"wrote {snakemake.output.npz} with {params}")
