"""Where the time goes: Snakemake's per-job ``benchmark:`` files, per rule and framework."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_benchmarks(paths, root: Path) -> pd.DataFrame:
    """One row per job: rule and framework from the path (``<root>/<rule>/[<framework>/...]``)."""
    rows = []
    for path in map(Path, paths):
        parts = path.relative_to(root).parts
        table = pd.read_csv(path, sep="\t")
        row = table.iloc[-1]
        rows.append({
            "rule": parts[0].removesuffix(".tsv"),
            "framework": parts[1] if parts[0] == "train" else "",
            "job": "/".join(parts[1:]).removesuffix(".tsv"),
            "wall_seconds": float(row["s"]),
            "cpu_seconds": float(row["cpu_time"]),
            "max_rss_mb": float(row["max_rss"]),
        })
    return pd.DataFrame(rows, columns=["rule", "framework", "job", "wall_seconds", "cpu_seconds", "max_rss_mb"])


def summarise(jobs: pd.DataFrame) -> pd.DataFrame:
    """Jobs, total and median wall time, total CPU time, largest peak memory per rule × framework."""
    grouped = jobs.groupby(["rule", "framework"], sort=True)
    table = grouped.agg(
        jobs=("job", "size"),
        wall_seconds_total=("wall_seconds", "sum"),
        wall_seconds_median=("wall_seconds", "median"),
        cpu_seconds_total=("cpu_seconds", "sum"),
        max_rss_mb_max=("max_rss_mb", "max"),
    ).reset_index()
    table["share_of_wall_time"] = table["wall_seconds_total"] / table["wall_seconds_total"].sum()
    return table.sort_values("wall_seconds_total", ascending=False, kind="stable").reset_index(drop=True)
