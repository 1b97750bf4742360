"""A port's figure, drawn from its tables: every arm's metric by seed, and each fix's paired effect."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gapstudy.io import atomic_path  # noqa: E402


def _plain(ax) -> None:
    """Log-axis ticks as plain numbers, the minor ones unlabelled (they would overlap)."""
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def arms_figure(runs: pd.DataFrame, causes: pd.DataFrame, path) -> None:
    """Left: the metric of every arm and seed (log scale). Right: each automatic fix's effect on the port
    (ratio of geometric means, paired interval by seed; filled where measured after Holm)."""
    fixes = causes.dropna(subset=["effect_ratio"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.45 * max(len(runs["arm"].unique()), len(fixes), 3) + 1.6))
    arms = list(dict.fromkeys(runs["arm"]))
    for i, arm in enumerate(arms[::-1]):
        values = runs.loc[runs["arm"] == arm, "value"].to_numpy(dtype=float)
        jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
        left.plot(values, i + jitter, "o", ms=4, color="C0" if arm != "keras" else "C1", alpha=0.8)
        left.plot([np.exp(np.mean(np.log(values)))] * 2, [i - 0.3, i + 0.3], color="k", lw=2)
    left.set_yticks(range(len(arms)), arms[::-1])
    left.set_xscale("log")
    _plain(left)
    left.set_xlabel(f"validation {runs['metric'].iloc[0]} (each seed; bar: geometric mean)")
    left.set_title("Every arm")
    y = np.arange(len(fixes))[::-1]
    for yi, r in zip(y, fixes.itertuples()):
        right.plot([r.effect_ci_low, r.effect_ci_high], [yi, yi], color="C2", lw=2)
        right.plot(r.effect_ratio, yi, "o", color="C2", mfc="C2" if r.effect_measured else "white", ms=7)
    right.axvline(1, color="grey", lw=1, ls="--")
    right.set_xscale("log")
    _plain(right)
    right.set_yticks(y, list(fixes["probe"]))
    right.set_xlabel("port with the fix / port (paired by seed)")
    right.set_title("Each fix alone")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
