"""Snakemake → gapstudy.data: write the user's arrays and their manifest."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from gapstudy.data import make_dataset, save_dataset  # noqa: E402
from gapstudy.io import open_log  # noqa: E402

log = open_log(snakemake.log[0])
params = dict(snakemake.params.dataset)
dataset = make_dataset(**params)
save_dataset(dataset, Path(snakemake.output.npz), Path(snakemake.output.manifest), params)
log(f"wrote {snakemake.output.npz} with {params}")
