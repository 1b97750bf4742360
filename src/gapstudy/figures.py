"""The report's figures, drawn with seaborn from the aggregated tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

# The user's colours: PyTorch blue, Keras brown; further variants get lighter shades.
BASE_COLOURS = {"torch": sns.color_palette("Blues_r", 6), "keras": sns.color_palette("YlOrBr_r", 6)}
SEED = 0  # seaborn's bootstrap for bands, so that figures are reproducible


def label(df: pd.DataFrame) -> pd.Series:
    return df["framework"] + "/" + df["variant"]


def palette(labels) -> dict:
    colours, used = {}, {"torch": 0, "keras": 0}
    for name in sorted(set(labels), key=lambda s: (s.split("/")[0] != "torch", s)):
        framework = name.split("/")[0]
        shades = BASE_COLOURS.get(framework, sns.color_palette("Greys_r", 6))
        colours[name] = shades[used.get(framework, 0) % len(shades)]
        used[framework] = used.get(framework, 0) + 1
    return colours


def _save(fig, path):
    fig.savefig(path, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def loss_curves(epochs: pd.DataFrame, path) -> None:
    """The user's first figure over all seeds: train solid, validation dashed, mean ± 95 % CI."""
    long = epochs.assign(run=label(epochs)).melt(
        id_vars=["run", "device", "seed", "epoch"],
        value_vars=["train_loss", "val_loss_user"],
        var_name="curve",
        value_name="loss",
    )
    long["curve"] = long["curve"].map({"train_loss": "train", "val_loss_user": "validation"})
    grid = sns.relplot(
        data=long, x="epoch", y="loss", hue="run", style="curve", col="device",
        kind="line", errorbar=("ci", 95), n_boot=1000, seed=SEED,
        dashes={"train": "", "validation": (4, 2)}, palette=palette(long["run"]),
        height=4, aspect=1.4,
    )
    grid.set(yscale="log")
    for ax in grid.axes.flat:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    grid.set_axis_labels("epoch", "loss as each framework reports it (log scale)")
    _save(grid.figure, path)


def predicted_vs_true(predictions: pd.DataFrame, path) -> None:
    """The user's second figure: every seed's validation predictions against the truth."""
    data = predictions.assign(run=label(predictions))
    grid = sns.relplot(
        data=data, x="y_true", y="y_pred", hue="run", col="run", row="device",
        palette=palette(data["run"]), s=6, alpha=0.25, linewidth=0, height=3.5, legend=False,
    )
    for ax in grid.axes.flat:
        lo, hi = data["y_true"].min(), data["y_true"].max()
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.8, linestyle="--")
    grid.set_axis_labels("true y (validation)", "predicted y")
    _save(grid.figure, path)


def mse_per_variant(runs: pd.DataFrame, path) -> None:
    """Validation MSE of every run (a point per seed) with the mean and its 95 % CI."""
    data = runs.assign(run=label(runs))
    order = sorted(data["run"].unique(), key=lambda s: (s.split("/")[0] != "torch", s))
    fig, axes = plt.subplots(
        1, data["device"].nunique(), figsize=(1.8 * len(order) + 2, 4), squeeze=False
    )
    for ax, (device, group) in zip(axes.flat, data.groupby("device")):
        sns.stripplot(data=group, x="run", y="val_mse", hue="run", order=order,
                      palette=palette(order), alpha=0.6, ax=ax, legend=False)
        sns.pointplot(data=group, x="run", y="val_mse", order=order, color="black",
                      errorbar=("ci", 95), n_boot=1000, seed=SEED, linestyle="none",
                      marker="_", markersize=20, ax=ax)
        ax.set_yscale("log")
        ax.set_title(f"device = {device}")
        ax.set_xlabel("framework/variant")
        ax.set_ylabel("validation MSE (log scale)")
        ax.tick_params(axis="x", rotation=20)
    _save(fig, path)


def run_time(runs: pd.DataFrame, path) -> None:
    """Wall time of each training job, per framework and variant."""
    data = runs.assign(run=label(runs))
    order = sorted(data["run"].unique(), key=lambda s: (s.split("/")[0] != "torch", s))
    fig, ax = plt.subplots(figsize=(1.8 * len(order) + 2, 4))
    sns.barplot(data=data, x="run", y="wall_seconds", hue="device", order=order,
                errorbar=None, alpha=0.5, ax=ax)
    sns.stripplot(data=data, x="run", y="wall_seconds", hue="device", order=order,
                  dodge=True, color="black", size=3, ax=ax, legend=False)
    ax.set_xlabel("framework/variant")
    ax.set_ylabel("wall time per training job (s)")
    ax.set_ylim(0, max(1.0, float(np.nanmax(data["wall_seconds"])) * 1.1))
    _save(fig, path)
