"""Snakemake → gapstudy.stats: summary over seeds and comparison with the reference."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

import pandas as pd  # noqa: E402

from gapstudy import stats  # noqa: E402
from gapstudy.io import atomic_path, open_log  # noqa: E402

log = open_log(snakemake.log[0])
runs = pd.read_csv(snakemake.input.runs)
s = snakemake.config["statistics"]
settings = dict(level=s["confidence_level"], resamples=s["bootstrap_resamples"], seed=s["bootstrap_seed"])
reference = snakemake.config["reference"]
results = {
    "summary": stats.summarise(runs, **settings),
    "comparison": stats.compare(runs, reference, **settings),
    "equivalence": stats.equivalence(
        runs, reference, margin=s["equivalence_margin"], alpha=s["equivalence_alpha"]
    ),
    "attribution": stats.attribution(
        runs, snakemake.config["variants"], reference, **settings,
        training=snakemake.config["training"],
    ),
}
for name, table in results.items():
    with atomic_path(Path(snakemake.output[name])) as tmp:
        table.to_csv(tmp, index=False)
    log(f"{name}: {len(table)} rows")
