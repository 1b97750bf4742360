"""The report's figures, drawn with seaborn from the workflow's tables.

One function per figure of ``gapstudy.registry.FIGURES``, called as
``name(*tables, path=..., intervals=...)``: the tables its registry entry
lists, in that order; ``intervals`` is the config's interval settings
(level, resamples, seed), so that every band and bar is the tables' interval.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.lines  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from gapstudy.studies.seed import claims  # noqa: E402
from gapstudy.statistics import stats
from gapstudy.registry import FRAMEWORKS  # noqa: E402

# Each framework's palette (registry): as_posted darkest, further variants lighter.
FRAMEWORK_ORDER = tuple(FRAMEWORKS)


@contextmanager
def fixed_jitter(seed: int = 0):
    """seaborn's ``stripplot`` jitters its points with NumPy's global generator (``np.random.uniform``):
    seeded here, so that a figure drawn twice from the same tables is the same picture, and the global
    state restored after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def band(intervals: dict):
    """seaborn's ``errorbar`` for a mean over seeds: the tables' interval (``stats.mean_ci``)."""
    level = intervals["level"]

    def interval(values):
        values = np.asarray(values, dtype=float)
        low, high = stats.mean_ci(values, level)
        mean = float(np.mean(values))
        return (mean, mean) if np.isnan(low) else (low, high)

    return interval


def label(df: pd.DataFrame) -> pd.Series:
    return df["framework"] + "/" + df["variant"]


def run_order(labels) -> list[str]:
    """Frameworks in the registry's order (PyTorch, Keras 3 and its other backends, Keras 2); as_posted first
    within each, then by name."""
    rank = {name: i for i, name in enumerate(FRAMEWORK_ORDER)}
    return sorted(set(labels), key=lambda s: (rank.get(s.split("/")[0], len(rank)),
                                              s.split("/")[1] != "as_posted", s))


def palette(labels) -> dict:
    colours = {}
    for framework in FRAMEWORK_ORDER:
        names = [n for n in run_order(labels) if n.split("/")[0] == framework]
        # Skip the palette's palest third so that every line stays visible on white.
        shades = sns.color_palette(FRAMEWORKS[framework].palette, int(len(names) * 1.5) + 1)
        colours.update(zip(names, shades))
    return colours


def _save(fig, path):
    fig.savefig(path, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def loss_curves(epochs: pd.DataFrame, path, intervals: dict) -> None:
    """The user's first figure over all seeds: train solid, validation dashed, mean and its interval."""
    long = epochs.assign(run=label(epochs)).melt(
        id_vars=["run", "device", "seed", "epoch"],
        value_vars=["train_loss", "val_loss_user"],
        var_name="curve",
        value_name="loss",
    )
    long["curve"] = long["curve"].map({"train_loss": "train", "val_loss_user": "validation"})
    grid = sns.relplot(
        data=long, x="epoch", y="loss", hue="run", style="curve", col="device",
        kind="line", errorbar=band(intervals),
        dashes={"train": "", "validation": (4, 2)}, palette=palette(long["run"]),
        height=4, aspect=1.4,
    )
    grid.set(yscale="log")
    for ax in grid.axes.flat:
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    grid.set_axis_labels("epoch", "loss as each framework reports it (log scale)")
    _save(grid.figure, path)


def predicted_vs_true(predictions: pd.DataFrame, path, intervals: dict) -> None:
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


def front_arms(hypotheses: pd.DataFrame) -> tuple[list[tuple[str, str, str]], str] | None:
    """The three runs of the user's question, from the declared claims: ([(framework, variant, title)], device).

    The reference (the user's Keras code), the arm of the ``worse`` claim
    (the user's PyTorch code) and its fix (``claims.gap_and_fix``, as the
    front page's answer names them). None without them.
    """
    found = claims.gap_and_fix(hypotheses)
    if found is None:
        return None
    gap, fix = found
    ref_framework, ref_variant = gap["reference"].split("/", 1)
    return [(ref_framework, ref_variant, "your Keras code"),
            (gap["framework"], gap["variant"], "your PyTorch code"),
            (fix["framework"], fix["variant"], "your PyTorch code, fixed")], gap["device"]


def users_figures(epochs: pd.DataFrame, predictions: pd.DataFrame, hypotheses: pd.DataFrame, path,
                  intervals: dict) -> None:
    """The user's two figures for one seed, side by side (``_users_figures``): four panels in a row."""
    _users_figures(epochs, predictions, hypotheses, path, columns=4)


def users_figures_phone(epochs: pd.DataFrame, predictions: pd.DataFrame, hypotheses: pd.DataFrame, path,
                        intervals: dict) -> None:
    """``users_figures`` in two columns, for a phone's width (the front page shows it there instead)."""
    _users_figures(epochs, predictions, hypotheses, path, columns=2)


def _users_figures(epochs: pd.DataFrame, predictions: pd.DataFrame, hypotheses: pd.DataFrame, path,
                   columns: int) -> None:
    """The user's two figures for one seed, side by side: predicted against true, then the loss curves.

    One panel per run of the question (``front_arms``: Keras, PyTorch as
    posted, PyTorch fixed), each titled with its Pearson r on the validation
    set, then the loss per epoch as each framework reports it, in the
    question's colours (PyTorch blue, Keras brown; train solid, validation
    dashed). The seed is the first that all three ran. ``columns``: 4 panels
    in a row (a laptop's screen) or 2 (a phone's).
    """
    rows = 4 // columns
    fig, axes = plt.subplots(rows, columns, figsize=(14, 3.4) if rows == 1 else (7, 7.2),
                             gridspec_kw={"width_ratios": [1, 1, 1, 1.4]} if rows == 1 else None)
    axes = np.asarray(axes).ravel()
    found = front_arms(hypotheses)
    if found is None:
        for ax in axes:
            ax.axis("off")
        axes[0].text(0, 0.5, "This config declares no gap and fix (config key hypotheses).", fontsize=11)
        _save(fig, path)
        return
    arms, device = found
    runs = [predictions[(predictions["framework"] == f) & (predictions["variant"] == v)
                        & (predictions["device"] == device)] for f, v, _ in arms]
    seed = min(set.intersection(*(set(r["seed"]) for r in runs)))
    colours = [sns.color_palette(FRAMEWORKS[f].palette, 4)[2 if i == 2 else 0] for i, (f, _, _) in enumerate(arms)]
    lo, hi = predictions["y_true"].min(), predictions["y_true"].max()
    for ax, run, colour, (_, _, title) in zip(axes, runs, colours, arms):
        one = run[run["seed"] == seed]
        r = np.corrcoef(one["y_true"], one["y_pred"])[0, 1] if one["y_pred"].std() > 0 else float("nan")
        ax.scatter(one["y_true"], one["y_pred"], s=5, alpha=0.5, linewidth=0, color=colour)
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.8, linestyle="--")
        ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="true y (validation)", ylabel=f"predicted y (seed {seed})",
               title=f"{title}\nr = {r:.3f}")
        ax.set_aspect("equal")
    ax = axes[3]
    for colour, (framework, variant, title) in zip(colours, arms):
        one = epochs[(epochs["framework"] == framework) & (epochs["variant"] == variant)
                     & (epochs["device"] == device) & (epochs["seed"] == seed)].sort_values("epoch")
        ax.plot(one["epoch"], one["train_loss"], color=colour, label=title)
        ax.plot(one["epoch"], one["val_loss_user"], color=colour, linestyle="--")
    handles = ax.get_legend_handles_labels()[0] + [
        matplotlib.lines.Line2D([], [], color="grey", label="training"),
        matplotlib.lines.Line2D([], [], color="grey", linestyle="--", label="validation")]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set(yscale="log", xlabel="epoch", ylabel="loss as reported", title=f"loss curves (seed {seed})")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.tight_layout()
    _save(fig, path)


def mse_per_variant(runs: pd.DataFrame, summary: pd.DataFrame, path, intervals: dict) -> None:
    """Validation MSE of every run (a point per seed) with the mean and its CI from the summary table."""
    data = runs.assign(run=label(runs))
    means = summary.assign(run=label(summary))
    order = run_order(data["run"])
    fig, axes = plt.subplots(
        1, data["device"].nunique(), figsize=(1.2 * len(order) + 2, 4.5), squeeze=False
    )
    for ax, (device, group) in zip(axes.flat, data.groupby("device")):
        with fixed_jitter():
            sns.stripplot(data=group, x="run", y="val_mse", hue="run", order=order,
                          palette=palette(order), alpha=0.6, ax=ax, legend=False)
        rows = means[means["device"] == device].set_index("run")
        shown = [i for i, name in enumerate(order) if name in rows.index]
        row = rows.loc[[order[i] for i in shown]]
        ax.errorbar(shown, row["val_mse_mean"], yerr=[row["val_mse_mean"] - row["val_mse_ci_low"],
                                                      row["val_mse_ci_high"] - row["val_mse_mean"]],
                    fmt="_", color="black", markersize=20, capsize=0, zorder=3)
        ax.set_yscale("log")
        ax.set_title(f"device = {device}")
        ax.set_xlabel("framework/variant")
        ax.set_ylabel("validation MSE (log scale)")
        ax.tick_params(axis="x", rotation=60)
        plt.setp(ax.get_xticklabels(), ha="right")
    _save(fig, path)


def run_time(runs: pd.DataFrame, path, intervals: dict) -> None:
    """Wall time of each training job, per framework and variant."""
    data = runs.assign(run=label(runs))
    order = run_order(data["run"])
    fig, ax = plt.subplots(figsize=(1.2 * len(order) + 2, 4.5))
    sns.barplot(data=data, x="run", y="wall_seconds", hue="device", order=order,
                errorbar=None, alpha=0.5, ax=ax)
    with fixed_jitter():
        sns.stripplot(data=data, x="run", y="wall_seconds", hue="device", order=order,
                      dodge=True, color="black", size=3, ax=ax, legend=False)
    ax.set_xlabel("framework/variant")
    ax.tick_params(axis="x", rotation=60)
    plt.setp(ax.get_xticklabels(), ha="right")
    ax.set_ylabel("wall time per training job (s)")
    ax.set_ylim(0, max(1.0, float(np.nanmax(data["wall_seconds"])) * 1.1))
    _save(fig, path)


def attribution_forest(attribution: pd.DataFrame, path, intervals: dict) -> None:
    """Share of the posted gap each switch closes (applied) or reopens (reverted), with its CI."""
    data = attribution.dropna(subset=["share_of_gap"]).copy()
    data["label"] = data["variant"] + "\n" + data["switches"].str.replace("; ", "\n")
    data = data.sort_values(["direction", "share_of_gap"], kind="stable")
    devices = sorted(data["device"].unique()) or ["cpu"]
    fig, axes = plt.subplots(1, len(devices), figsize=(8 * len(devices), 0.75 * max(len(data) / len(devices), 2) + 1.5),
                             squeeze=False)
    for ax, device in zip(axes.flat, devices):
        rows = data[data["device"] == device].reset_index(drop=True)
        colours = rows["direction"].map({"apply": "tab:blue", "revert": "tab:orange"})
        # A percentile bootstrap interval need not contain its estimate: draw the interval as it is.
        ax.hlines(rows.index, rows["share_ci_low"], rows["share_ci_high"], color="grey")
        ax.scatter(rows["share_of_gap"], rows.index, c=colours, zorder=3)
        ax.set_yticks(rows.index, rows["label"], fontsize=7)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.axvline(1, color="black", linewidth=0.8, linestyle="--")
        ax.set_xlabel("share of the posted gap in log MSE (blue: switch applied to the posted code, "
                      "closes it; orange: reverted in the aligned code, reopens it)", fontsize=8)
        ax.set_title(f"device = {device}")
    _save(fig, path)


def equivalence(table: pd.DataFrame, path, intervals: dict) -> None:
    """Each variant's (1 − 2α) CI of the log MSE ratio to the reference against the declared margin."""
    data = table.dropna(subset=["log_ratio"]).copy()
    data["label"] = data["framework"] + "/" + data["variant"] + " (" + data["device"] + ")"
    data = data.sort_values("log_ratio", kind="stable").reset_index(drop=True)
    margin = float(table["margin"].iloc[0]) if len(table) else 1.05
    fig, ax = plt.subplots(figsize=(8, 0.45 * max(len(data), 2) + 1.5))
    colours = data["equivalent"].map({True: "tab:green", False: "tab:red"})
    ratio, low, high = (np.exp(data[c]) for c in ("log_ratio", "log_ratio_ci_low", "log_ratio_ci_high"))
    ax.errorbar(ratio, data.index, xerr=[ratio - low, high - ratio], fmt="none", ecolor="grey", capsize=3)
    ax.scatter(ratio, data.index, c=colours, zorder=3)
    ax.axvspan(1 / margin, margin, color="tab:green", alpha=0.15, linewidth=0)
    ax.axvline(1, color="black", linewidth=0.5)
    ax.set_xscale("log")
    ax.set_yticks(data.index, data["label"], fontsize=8)
    ax.set_xlabel(f"geometric-mean MSE / reference (log scale), CI at 1 − 2α; shaded: equivalence "
                  f"margin ×/÷ {margin:g} (green point: equivalent by TOST)", fontsize=8)
    _save(fig, path)


def learning_curves_by_variant(epochs: pd.DataFrame, path, intervals: dict) -> None:
    """Full-set validation MSE per epoch for every variant, one panel each, over every framework's posted run."""
    data = epochs.assign(run=label(epochs))
    posted = data[data["variant"] == "as_posted"]
    variants = sorted(data["variant"].unique(), key=lambda v: (v != "as_posted", v))
    columns = min(4, len(variants))
    rows_n = -(-len(variants) // columns)
    fig, axes = plt.subplots(rows_n, columns, figsize=(4 * columns, 3 * rows_n), squeeze=False,
                             sharex=True, sharey=True)
    colours = palette(data["run"])
    for ax, variant in zip(axes.flat, variants):
        sns.lineplot(data=posted, x="epoch", y="val_mse", hue="run", palette=colours, errorbar=None,
                     ax=ax, legend=False, linestyle=":")
        sns.lineplot(data=data[data["variant"] == variant], x="epoch", y="val_mse", style="framework",
                     color="black", errorbar=band(intervals), ax=ax, legend=True)
        ax.set_title(variant, fontsize=9)
        ax.set_yscale("log")
        ax.legend(fontsize=6)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    for ax in axes.flat[len(variants):]:
        ax.set_visible(False)
    fig.supylabel("full-set validation MSE (log); black: the variant; dotted: every framework as posted, "
                  "in its colour (torch blue, keras brown)")
    _save(fig, path)


def lockstep_drift(steps: pd.DataFrame, summary: pd.DataFrame, path, intervals: dict) -> None:
    """Largest parameter difference between the frameworks after each step, one line per pair.

    ``steps``: every step of every pair (column ``pair``); ``summary``: the lock-step table.
    """
    fig, ax = plt.subplots(figsize=(8, 4.5))
    pairs = summary.set_index("pair")
    floor = np.finfo(np.float32).tiny  # a log axis cannot show 0 (identical weights)
    for pair, table in steps.groupby("pair", sort=True):
        row = pairs.loc[pair]
        ax.plot(table["step"], table["max_abs_diff"].clip(lower=floor), lw=1,
                label=f"{pair}: {row['a']} vs {row['b']}")
    tolerance = float(summary["tolerance"].iloc[0])
    ax.axhline(tolerance, color="grey", ls="--", lw=1, label=f"tolerance {tolerance:g}")
    ax.set(xlabel="optimizer step", ylabel="max |w_a − w_b| over all parameters", yscale="log",
           title="Same start, same batches: how far the frameworks' weights drift apart")
    ax.legend(fontsize=8)
    _save(fig, path)


def determinism(repeats: pd.DataFrame, devices: pd.DataFrame, path, intervals: dict) -> None:
    """Left: runs trained twice that repeated bit for bit, per job. Right: CPU against GPU, where one ran."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, max(3.0, 0.3 * len(repeats) + 1.5)))
    jobs = repeats.assign(job=repeats["framework"] + "/" + repeats["variant"] + " on " + repeats["device"])
    left.barh(jobs["job"], jobs["runs_repeated"], color="lightgrey", label="trained twice")
    left.barh(jobs["job"], jobs["repeated_identically"], color="tab:green", label="identical bits")
    left.invert_yaxis()
    left.set(xlabel="runs", title="Do runs repeat bit for bit?")
    left.legend(fontsize=8, loc="lower right")
    if devices.empty:
        right.text(0.5, 0.5, "CPU against GPU did not run:\nno GPU on the machine that ran the study",
                   ha="center", va="center", transform=right.transAxes)
        right.set_axis_off()
    else:
        for (framework, device), group in devices.groupby(["framework", "device"]):
            right.scatter(group["val_mse_cpu"], group["val_mse_device"], s=18, label=f"{framework}, cpu vs {device}")
        lims = [devices[["val_mse_cpu", "val_mse_device"]].min().min(), devices[["val_mse_cpu", "val_mse_device"]].max().max()]
        right.plot(lims, lims, "k--", lw=1)
        right.set(xscale="log", yscale="log", xlabel="validation MSE on CPU", ylabel="validation MSE on the other device",
                  title="The same seed on two devices")
        right.legend(fontsize=8)
    _save(fig, path)
