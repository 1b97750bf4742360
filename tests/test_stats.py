import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from gapstudy import stats


def runs_table():
    rng = np.random.default_rng(1)
    rows = []
    for framework, variant, scale in [("keras", "as_posted", 1.0), ("torch", "as_posted", 5.0), ("torch", "fixed", 1.0)]:
        for seed in range(8):
            rows.append(dict(framework=framework, variant=variant, device="cpu", seed=seed,
                             val_mse=scale * 0.003 * np.exp(rng.normal(scale=0.05)),
                             val_pearson_r=0.9, val_r2=0.8, val_mae=0.04, diverged=False))
    return pd.DataFrame(rows)


SETTINGS = dict(level=0.95, resamples=2000, seed=0)


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    low, high = stats.bootstrap_ci([x], stats._mean, 0.95, 2000, 0)
    assert low < x.mean() < high
    assert (low, high) == stats.bootstrap_ci([x], stats._mean, 0.95, 2000, 0)
    assert 1.5 < low < 3.5 and 3.5 < high < 5.5


def test_bootstrap_ci_needs_two_values_and_handles_constant_samples():
    assert all(np.isnan(stats.bootstrap_ci([[1.0]], stats._mean, 0.95, 1000, 0)))
    assert stats.bootstrap_ci([[2.0, 2.0, 2.0]], stats._mean, 0.95, 1000, 0) == (2.0, 2.0)


def test_summary_per_group():
    table = stats.summarise(runs_table(), **SETTINGS)
    assert len(table) == 3 and set(table["n_seeds"]) == {8}
    row = table[(table.framework == "torch") & (table.variant == "as_posted")].iloc[0]
    assert row.val_mse_ci_low < row.val_mse_mean < row.val_mse_ci_high


def test_comparison_against_reference():
    runs = runs_table()
    table = stats.compare(runs, {"framework": "keras", "variant": "as_posted"}, **SETTINGS)
    assert list(table["variant"]) == ["as_posted", "fixed"]
    posted = table.iloc[0]
    a = runs[(runs.framework == "torch") & (runs.variant == "as_posted")].val_mse
    b = runs[runs.framework == "keras"].val_mse
    assert posted.mse_ratio == pytest.approx(a.mean() / b.mean())
    assert posted.mse_ratio_ci_low > 4 and posted.mse_ratio_ci_high < 6
    assert posted.mse_percent_difference == pytest.approx(100 * (posted.mse_ratio - 1))
    assert posted.welch_p == pytest.approx(sps.ttest_ind(np.log(a), np.log(b), equal_var=False).pvalue)
    assert posted.p_improvement == 0.0  # every torch run is worse than every keras run
    fixed = table.iloc[1]
    assert fixed.mse_ratio_ci_low < 1 < fixed.mse_ratio_ci_high


def test_holm_known_values_and_nan():
    adjusted = stats.holm(np.array([0.01, 0.04, np.nan, 0.03]))
    np.testing.assert_allclose(adjusted[[0, 1, 3]], [0.03, 0.06, 0.06])
    assert np.isnan(adjusted[2])


def test_diverged_runs_are_counted_not_averaged():
    runs = runs_table()
    runs.loc[0, "diverged"] = True
    runs.loc[0, "val_mse"] = np.inf
    table = stats.summarise(runs, **SETTINGS)
    keras = table[table.framework == "keras"].iloc[0]
    assert keras.n_diverged == 1 and np.isfinite(keras.val_mse_mean)


def test_tost_declares_equivalence_only_within_the_margin():
    rng = np.random.default_rng(3)
    rows = []
    for variant, factor in [("as_posted", 1.0), ("close", 1.01), ("far", 1.3)]:
        for seed in range(30):
            rows.append(dict(framework="keras" if variant == "as_posted" else "torch", variant=variant,
                             device="cpu", seed=seed, diverged=False,
                             val_mse=0.003 * factor * np.exp(rng.normal(scale=0.02))))
    runs = pd.DataFrame(rows)
    table = stats.equivalence(runs, {"framework": "keras", "variant": "as_posted"}, margin=1.05, alpha=0.05)
    by = table.set_index("variant")
    assert by.loc["close", "equivalent"] and not by.loc["far", "equivalent"]
    assert by.loc["close", "log_ratio_ci_low"] > -np.log(1.05) and by.loc["close", "log_ratio_ci_high"] < np.log(1.05)
    from statsmodels.stats.weightstats import ttost_ind

    a = np.log(runs[runs.variant == "far"].val_mse)
    b = np.log(runs[runs.variant == "as_posted"].val_mse)
    assert by.loc["far", "tost_p"] == pytest.approx(ttost_ind(a, b, -np.log(1.05), np.log(1.05), usevar="unequal")[0])


def test_attribution_shares_of_a_known_gap():
    """Posted 8x the reference; one switch closes half the log gap, its revert reopens a quarter."""
    rows = []
    levels = {("torch", "as_posted"): 8.0, ("keras", "as_posted"): 1.0, ("torch", "half"): 8.0 ** 0.5,
              ("torch", "aligned"): 1.0, ("torch", "aligned_but"): 8.0 ** 0.25}
    rng = np.random.default_rng(0)
    for (framework, variant), level in levels.items():
        for seed in range(12):
            rows.append(dict(framework=framework, variant=variant, device="cpu", seed=seed, diverged=False,
                             val_mse=0.003 * level * np.exp(rng.normal(scale=0.01))))
    variants = {"as_posted": {}, "half": {"switches": {"target_shape": "matched"}, "baseline": "as_posted"},
                "aligned": {"switches": {"target_shape": "matched", "adam_rule": "keras"}, "baseline": "as_posted"},
                "aligned_but": {"switches": {"target_shape": "matched"}, "baseline": "aligned"}}
    table = stats.attribution(pd.DataFrame(rows), variants, {"framework": "keras", "variant": "as_posted"},
                              **SETTINGS).set_index("variant")
    assert table.loc["half", "share_of_gap"] == pytest.approx(0.5, abs=0.02)
    assert table.loc["half", "share_ci_low"] < 0.5 < table.loc["half", "share_ci_high"]
    assert table.loc["half", "direction"] == "apply" and table.loc["half", "switches"] == "target_shape: posted → matched"
    assert table.loc["aligned", "switches"] == "adam_rule: torch → keras; target_shape: posted → matched"
    assert table.loc["aligned", "share_of_gap"] == pytest.approx(1.0, abs=0.02)
    assert table.loc["aligned_but", "direction"] == "revert"
    assert table.loc["aligned_but", "share_of_gap"] == pytest.approx(0.25, abs=0.02)
    assert table.loc["aligned_but", "switches"] == "adam_rule: keras → torch"


def test_attribution_of_reference_side_switches_gives_the_change_not_a_share():
    """Keras-side switches: the posted Keras run is the reference, so there is no gap to share."""
    rng = np.random.default_rng(5)
    rows = []
    for (framework, variant), level in {("keras", "as_posted"): 1.0, ("keras", "slow"): 2.0,
                                        ("torch", "as_posted"): 5.0, ("torch", "more_epochs"): 5.0}.items():
        for seed in range(10):
            rows.append(dict(framework=framework, variant=variant, device="cpu", seed=seed, diverged=False,
                             val_mse=0.003 * level * np.exp(rng.normal(scale=0.01))))
    variants = {"as_posted": {}, "slow": {"switches": {"learning_rate": 1e-4}, "baseline": "as_posted"},
                "more_epochs": {"switches": {"epochs": 300}, "baseline": "as_posted"}}
    table = stats.attribution(pd.DataFrame(rows), variants, {"framework": "keras", "variant": "as_posted"},
                              **SETTINGS, training={"learning_rate": 1e-3, "epochs": 100}).set_index("variant")
    slow = table.loc["slow"]
    assert np.isnan(slow.share_of_gap) and slow.switches == "learning_rate: 0.001 → 0.0001"
    assert slow.log_mse_change == pytest.approx(np.log(2), abs=0.02)
    assert slow.change_ci_low < np.log(2) < slow.change_ci_high
    assert table.loc["more_epochs", "switches"] == "epochs: 100 → 300"
    assert abs(table.loc["more_epochs", "share_of_gap"]) < 0.05
