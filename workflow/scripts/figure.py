"""Snakemake → gapstudy.figures: draw the figure named by the rule's params."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

import pandas as pd  # noqa: E402

from gapstudy import figures  # noqa: E402
from gapstudy.io import atomic_path, open_log  # noqa: E402

log = open_log(snakemake.log[0])
table = pd.read_csv(snakemake.input[0])
with atomic_path(Path(snakemake.output[0])) as tmp:
    getattr(figures, snakemake.params.figure)(table, tmp)
log(f"drew {snakemake.params.figure} from {len(table)} rows")
