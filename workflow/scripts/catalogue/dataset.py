"""Snakemake → gapstudy.studies.catalogue.data: one dataset of the catalogue, generated or loaded from scikit-learn."""

from pathlib import Path

from gapstudy.studies.catalogue import data
from gapstudy.io import open_log

log = open_log(snakemake.log[0])
arrays = data.make(snakemake.wildcards.dataset, snakemake.params.split_seed)
data.save(arrays, Path(snakemake.output.npz))
log(f"{snakemake.wildcards.dataset}: " + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))
