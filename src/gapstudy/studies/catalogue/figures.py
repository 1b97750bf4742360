"""The catalogue's figures, drawn from its tables: effects across pitfalls, and where each first diverges."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gapstudy.trace.engine import KINDS  # noqa: E402

FIGURES = {
    "forest": "Effect of each pitfall on its case's validation metric: the fixed port with that one pitfall "
              "against the fixed port, ratio of geometric means with its paired {level} % t-interval, by seed. "
              "Right of 1: the pitfall makes the port worse. Filled: measured (Holm over the pitfalls).",
    "divergence": "Where each pitfall's port first leaves the Keras reference in lock-step: the kind of the "
                  "first tensor beyond tolerance (in the order a step computes them), labelled with the step "
                  "and the tensor. Step 0 compares initialisations.",
}


def _save(fig, path) -> None:
    fig.savefig(path, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _label(table: pd.DataFrame) -> list[str]:
    return [f"{r.title} [{r.case}]" for r in table.itertuples()]


def forest(table: pd.DataFrame, path, level: float) -> None:
    """``table``: the ranked pitfall table (``analysis.pitfall_table``)."""
    import seaborn as sns

    families = list(dict.fromkeys(table["family"]))
    colours = dict(zip(families, sns.color_palette("colorblind", len(families))))
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(table) + 1.4))
    y = np.arange(len(table))[::-1]
    for yi, r in zip(y, table.itertuples()):
        colour = colours[r.family]
        ax.plot([r.effect_ci_low, r.effect_ci_high], [yi, yi], color=colour, lw=2)
        ax.plot(r.effect_ratio, yi, "o", color=colour, mfc=colour if r.effect_measured else "white", ms=7)
    ax.axvline(1, color="grey", lw=1, ls="--")
    ax.set_xscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_yticks(y, _label(table))
    ax.set_xlabel(f"metric with the pitfall / metric of the fixed port (geometric means, {100 * level:g} % CI)")
    for family, colour in colours.items():
        ax.plot([], [], "o", color=colour, label=family)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title("Effect of each porting pitfall, alone on the fixed port")
    _save(fig, path)


def divergence(table: pd.DataFrame, path, level: float) -> None:
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(table) + 1.6))
    y = np.arange(len(table))[::-1]
    position = {k: i for i, k in enumerate(KINDS)}
    for yi, r in zip(y, table.itertuples()):
        if pd.isna(r.first_step):
            ax.text(len(KINDS) - 0.5, yi, "none in the traced steps", va="center", ha="right", fontsize=8)
            continue
        x = position[r.first_kind]
        ax.plot(x, yi, "s", color="C3", ms=9)
        when = (f"after epoch {int(r.first_epoch)} (step {int(r.first_step)})" if r.first_kind == "validation output"
                else f"step {int(r.first_step)}")
        ax.text(x + 0.18, yi, f"{when}: {r.first_tensor}", va="center", fontsize=8)
    ax.set_xticks(range(len(KINDS)), KINDS, rotation=30, ha="right")
    ax.set_xlim(-0.5, len(KINDS) + 1.5)
    ax.set_yticks(y, _label(table))
    ax.grid(axis="x", color="0.9")
    ax.set_title("First tensor beyond tolerance, in the order a training step computes it")
    _save(fig, path)
