"""Snakemake → gapstudy.statistics.stats: the common-random-numbers pairs, paired by seed."""

import json
from pathlib import Path

import pandas as pd

from gapstudy.statistics import stats
from gapstudy.io import atomic_path, open_log

log = open_log(snakemake.log[0])
params = snakemake.params
sides = {}
for path in snakemake.input.sides:
    record = json.loads(Path(path).read_text())
    sides[record["pair"], record["side"]] = record
rows = []
for pair in params.pairs:
    a, b = sides[pair, "a"], sides[pair, "b"]
    rows.append(stats.crn_pair(pair, f"{a['framework']}/{a['variant']}", f"{b['framework']}/{b['variant']}",
                               pd.DataFrame(a["seeds"]), pd.DataFrame(b["seeds"]), params.level, params.margin,
                               params.alpha))
with atomic_path(Path(snakemake.output.table)) as tmp:
    pd.DataFrame(rows, columns=stats.CRN_COLUMNS).to_csv(tmp, index=False)
log(f"{len(rows)} pairs")
