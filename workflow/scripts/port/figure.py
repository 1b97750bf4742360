"""Snakemake → gapstudy.studies.port.figures: every arm's metric, and each fix's paired effect."""

from pathlib import Path

import pandas as pd

from gapstudy.io import open_log
from gapstudy.studies.port import figures

log = open_log(snakemake.log[0])
figures.arms_figure(pd.read_csv(snakemake.input.runs), pd.read_csv(snakemake.input.causes),
                    Path(snakemake.output[0]))
log("wrote the figure")
