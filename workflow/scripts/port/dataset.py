"""Snakemake → gapstudy.studies.port.sides: the port's arrays (its file or generator, split), as one .npz."""

from pathlib import Path

import numpy as np

from gapstudy.io import atomic_path, open_log
from gapstudy.studies.port import sides

log = open_log(snakemake.log[0])
data = sides.load_data(snakemake.params.port)
with atomic_path(Path(snakemake.output.npz)) as tmp:
    with open(tmp, "wb") as handle:
        np.savez(handle, **data)
log(", ".join(f"{k} {v.shape}" for k, v in data.items()))
