"""Snakemake → gapstudy.lockstep / figures: the lock-step table, its page and the drift figure."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

import pandas as pd  # noqa: E402

from gapstudy import figures, report  # noqa: E402
from gapstudy.io import atomic_path, atomic_write_text, open_log  # noqa: E402

log = open_log(snakemake.log[0])
table = pd.DataFrame([json.loads(Path(p).read_text()) for p in snakemake.input.summaries])
with atomic_path(Path(snakemake.output.table)) as tmp:
    table.to_csv(tmp, index=False)
atomic_write_text(Path(snakemake.output.html), report.html_table(
    table, "Lock-step runs: where PyTorch and Keras part ways",
    "Same initial weights, same batches; after every step the largest absolute difference of any "
    "parameter. first_step_apart: the first step at which the losses or the weights differ by more "
    "than the tolerance."))
steps = {pair: pd.read_csv(path) for pair, path in zip(snakemake.params.pairs, snakemake.input.steps)}
with atomic_path(Path(snakemake.output.figure)) as tmp:
    figures.lockstep_drift(steps, table, tmp)
log(f"{len(table)} lock-step pairs")
