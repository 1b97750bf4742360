import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from gapstudy.statistics import stats


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
LEVEL = 0.95


# The observed spread of log MSE between seeds (default study: 0.034 to 0.053).
SPREAD = 0.05


@pytest.mark.parametrize("n", [2, 5, 10, 30])  # 2: the tiny config; 5: the default's smallest arm
@pytest.mark.parametrize("data", ["normal", "lognormal"])
def test_the_interval_method_covers_within_one_point_of_nominal(n, data):
    """t-intervals of the mean (normal data) and of the geometric mean (lognormal), simulated at n seeds."""
    rng = np.random.default_rng(n)
    reps = 40_000  # the simulated coverage's standard error: about 0.11 points
    logs = rng.normal(np.log(0.003), SPREAD, size=(reps, n))
    values = np.exp(logs) if data == "lognormal" else 0.003 + 0.003 * SPREAD * rng.standard_normal((reps, n))
    target = 0.003 if data == "lognormal" else 0.003  # the geometric mean; the mean
    sample = np.log(values) if data == "lognormal" else values
    truth = np.log(target) if data == "lognormal" else target
    # stats.mean_ci row by row is slow at 40,000 reps; the same scipy call, vectorised.
    mean, sem = sample.mean(axis=1), sps.sem(sample, axis=1)
    low, high = sps.t.interval(LEVEL, n - 1, loc=mean, scale=sem)
    coverage = np.mean((low <= truth) & (truth <= high))
    assert abs(coverage - LEVEL) < 0.01, coverage
    # ... and it is the very interval mean_ci gives.
    assert stats.mean_ci(sample[0], LEVEL) == pytest.approx((low[0], high[0]))


def test_mean_ci_needs_two_values_and_handles_constant_samples():
    assert all(np.isnan(stats.mean_ci([1.0], LEVEL)))
    assert stats.mean_ci([2.0, 2.0, 2.0], LEVEL) == (2.0, 2.0)


def paired_runs(effect_sd=0.0, shift=0.0, seeds=10, seed_sd=0.05, rng_seed=0):
    """Runs where each PyTorch seed has its own draw, shared by every variant at that seed (as in the study)."""
    rng = np.random.default_rng(rng_seed)
    seed_effect = rng.normal(scale=seed_sd, size=seeds)
    rows = []
    for s in range(seeds):
        rows.append(dict(framework="keras", variant="as_posted", device="cpu", seed=s, diverged=False,
                         val_mse=0.003 * np.exp(rng.normal(scale=seed_sd))))
        for variant, level in (("as_posted", 5.0), ("fixed", 1.0), ("null", 5.0)):
            extra = rng.normal(scale=effect_sd) if variant == "fixed" else 0.0
            level = level * np.exp(shift) if variant == "fixed" else level
            rows.append(dict(framework="torch", variant=variant, device="cpu", seed=s, diverged=False,
                             val_mse=0.003 * level * np.exp(seed_effect[s] + extra)))
    return pd.DataFrame(rows)


VARIANTS = {"as_posted": {}, "fixed": {"switches": {"target_shape": "matched"}, "baseline": "as_posted"},
            "null": {"switches": {"adam_rule": "keras"}, "baseline": "as_posted"}}
REFERENCE = {"framework": "keras", "variant": "as_posted"}


def test_a_switch_that_changes_nothing_has_a_zero_width_paired_interval():
    table, pairs = stats.attribution(paired_runs(effect_sd=0.01), VARIANTS, REFERENCE, **SETTINGS)
    null = table.set_index("variant").loc["null"]
    assert null.share_of_gap == 0 and null.share_ci_low == 0 and null.share_ci_high == 0
    assert null.change_ci_low == 0 and null.change_ci_high == 0 and null.largest_seed_difference == 0
    assert len(pairs[pairs.variant == "null"]) == 10 and (pairs[pairs.variant == "null"].difference == 0).all()


def test_the_paired_interval_of_fixed_is_narrower_than_the_unpaired_one():
    runs = paired_runs(effect_sd=0.01)
    table, _ = stats.attribution(runs, VARIANTS, REFERENCE, **SETTINGS)
    fixed = table.set_index("variant").loc["fixed"]
    logs = {v: np.log(runs[(runs.framework == "torch") & (runs.variant == v)].sort_values("seed").val_mse.to_numpy())
            for v in ("as_posted", "fixed")}
    ref = np.log(runs[runs.framework == "keras"].val_mse.to_numpy())
    unpaired = stats.paired_share_ci(logs["as_posted"], ref, logs["fixed"], logs["as_posted"], False, 0.95,
                                     2000, 0, paired=False)
    assert fixed.share_ci_low < fixed.share_of_gap < fixed.share_ci_high
    assert fixed.share_ci_high - fixed.share_ci_low < unpaired[1] - unpaired[0]
    assert fixed.change_ci_method == stats.T_PAIRED


DECLARED = {"gap": {"claim": "worse", "framework": "torch", "variant": "as_posted"},
            "fix": {"claim": "equivalent", "framework": "torch", "variant": "fixed"}}


def test_the_hypothesis_family_is_exactly_the_declared_primaries():
    runs = paired_runs(seeds=30)
    table = stats.hypotheses(runs, DECLARED, REFERENCE, margin=1.05, alpha=0.05)
    assert list(table.hypothesis) == ["gap", "fix"]  # not null, not every row of the comparison
    a = np.log(runs[(runs.framework == "torch") & (runs.variant == "as_posted")].val_mse)
    b = np.log(runs[runs.framework == "keras"].val_mse)
    one_sided = sps.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue
    from statsmodels.stats.weightstats import ttost_ind

    f = np.log(runs[(runs.framework == "torch") & (runs.variant == "fixed")].val_mse)
    tost_p = ttost_ind(f, b, -np.log(1.05), np.log(1.05), usevar="unequal")[0]
    np.testing.assert_allclose(table.p_holm, stats.holm(np.array([one_sided, tost_p])))
    assert table.set_index("hypothesis").loc["gap", "supported"]
    assert table.set_index("hypothesis").loc["gap", "mse_ratio"] == pytest.approx(np.exp(a.mean() - b.mean()))


@pytest.mark.parametrize("n, true_log_ratio", [(10, 0.0), (20, 0.01), (30, 0.0), (8, 0.02)])
def test_tost_power_matches_a_simulation_within_two_points(n, true_log_ratio):
    from statsmodels.stats.weightstats import ttost_ind

    rng = np.random.default_rng(n)
    reps, margin, alpha, sd = 4000, 1.05, 0.05, 0.045
    hits = 0
    for _ in range(reps):
        a, b = rng.normal(true_log_ratio, sd, n), rng.normal(0.0, sd, n)
        hits += ttost_ind(a, b, -np.log(margin), np.log(margin), usevar="unequal")[0] < alpha
    simulated = hits / reps
    assert stats.tost_power(sd, n, n, margin, alpha, true_log_ratio) == pytest.approx(simulated, abs=0.02)


def test_seeds_for_power_is_the_smallest_n_reaching_the_target():
    n = stats.seeds_for_power(0.045, 1.05, 0.05, 0.9)
    assert stats.tost_power(0.045, n, n, 1.05, 0.05) >= 0.9 > stats.tost_power(0.045, n - 1, n - 1, 1.05, 0.05)
    assert 10 < n < 40


def test_summary_per_group():
    table = stats.summarise(runs_table(), LEVEL)
    assert len(table) == 3 and set(table["n_seeds"]) == {8}
    row = table[(table.framework == "torch") & (table.variant == "as_posted")].iloc[0]
    assert row.val_mse_ci_low < row.val_mse_mean < row.val_mse_ci_high


def test_comparison_against_reference():
    runs = runs_table()
    table = stats.compare(runs, {"framework": "keras", "variant": "as_posted"}, LEVEL)
    assert list(table["variant"]) == ["as_posted", "fixed"]
    posted = table.iloc[0]
    a = runs[(runs.framework == "torch") & (runs.variant == "as_posted")].val_mse
    b = runs[runs.framework == "keras"].val_mse
    assert posted.mse_ratio == pytest.approx(np.exp(np.log(a).mean() - np.log(b).mean()))
    assert posted.mse_ratio_ci_low > 4 and posted.mse_ratio_ci_high < 6
    assert posted.mse_percent_difference == pytest.approx(100 * (posted.mse_ratio - 1))
    assert posted.welch_p == pytest.approx(sps.ttest_ind(np.log(a), np.log(b), equal_var=False).pvalue)
    assert posted.p_improvement == 0.0  # every torch run is worse than every keras run
    fixed = table.iloc[1]
    assert fixed.mse_ratio_ci_low < 1 < fixed.mse_ratio_ci_high


def test_probability_of_improvement_has_an_interval_where_the_groups_overlap():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 10), rng.normal(0.5, 1, 10)
    low, high = stats.p_improvement_ci(a, b, 0.95)
    from statsmodels.stats.nonparametric import rank_compare_2indep

    assert low < rank_compare_2indep(b, a).prob1 < high and 0 <= low and high <= 1
    assert all(np.isnan(stats.p_improvement_ci(a, a + 10, 0.95)))  # complete separation: no interval


def test_holm_known_values_and_nan():
    adjusted = stats.holm(np.array([0.01, 0.04, np.nan, 0.03]))
    np.testing.assert_allclose(adjusted[[0, 1, 3]], [0.03, 0.06, 0.06])
    assert np.isnan(adjusted[2])


def test_diverged_runs_are_counted_not_averaged():
    runs = runs_table()
    runs.loc[0, "diverged"] = True
    runs.loc[0, "val_mse"] = np.inf
    table = stats.summarise(runs, LEVEL)
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
                              **SETTINGS)[0].set_index("variant")
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
                              **SETTINGS, training={"learning_rate": 1e-3, "epochs": 100})[0].set_index("variant")
    slow = table.loc["slow"]
    assert np.isnan(slow.share_of_gap) and slow.switches == "learning_rate: 0.001 → 0.0001"
    assert slow.log_mse_change == pytest.approx(np.log(2), abs=0.02)
    assert slow.change_ci_low < np.log(2) < slow.change_ci_high
    assert table.loc["more_epochs", "switches"] == "epochs: 100 → 300"
    assert abs(table.loc["more_epochs", "share_of_gap"]) < 0.05


def test_keras_side_switches_on_another_keras_give_the_change_not_a_share():
    """Keras 2 runs the reference's code too: its small difference from Keras 3 is no gap to share."""
    rng = np.random.default_rng(6)
    rows = [dict(framework=framework, variant=variant, device="cpu", seed=seed, diverged=False,
                 val_mse=0.003 * level * np.exp(rng.normal(scale=0.01)))
            for (framework, variant), level in {("keras", "as_posted"): 1.0, ("keras2", "as_posted"): 1.01,
                                                ("keras2", "slow"): 2.0}.items() for seed in range(10)]
    variants = {"as_posted": {}, "slow": {"switches": {"learning_rate": 1e-4}, "baseline": "as_posted"}}
    slow = stats.attribution(pd.DataFrame(rows), variants, {"framework": "keras", "variant": "as_posted"},
                             **SETTINGS)[0].set_index("variant").loc["slow"]
    assert np.isnan(slow.share_of_gap) and np.isnan(slow.share_ci_low)
    assert slow.log_mse_change == pytest.approx(np.log(2 / 1.01), abs=0.02)


def test_numerically_identical_variants_are_found_once():
    runs = paired_runs(effect_sd=0.01)
    table = stats.identical_results(runs)
    assert list(zip(table.variant, table.same_as)) == [("null", "as_posted")]
    assert table.largest_seed_difference.iloc[0] == 0
    nudged = runs.copy()
    nudged.loc[nudged.variant == "null", "val_mse"] *= np.exp(2e-4)
    assert stats.identical_results(nudged).empty


def test_common_random_numbers_are_compared_paired_by_seed():
    from statsmodels.stats.weightstats import ttost_paired

    rng = np.random.default_rng(2)
    seed_effect = rng.normal(scale=0.05, size=8)  # large between seeds, shared by both sides
    a = pd.DataFrame({"seed": range(8), "val_mse": 0.003 * np.exp(seed_effect + rng.normal(scale=1e-3, size=8))})
    b = pd.DataFrame({"seed": range(8), "val_mse": 0.003 * np.exp(seed_effect)})
    row = stats.crn_pair("aligned", "torch/aligned", "keras/as_posted", a, b, 0.95, 1.05, 0.05)
    assert row["equivalent"] and row["power"] > 0.99 and row["seeds_for_90_percent_power"] == 2
    assert row["ci_low"] < row["mse_ratio"] < row["ci_high"] and row["ci_high"] / row["ci_low"] < 1.01
    assert row["tost_p"] == pytest.approx(ttost_paired(np.log(a.val_mse), np.log(b.val_mse),
                                                       -np.log(1.05), np.log(1.05))[0])
    # The same seeds, unpaired: the spread between seeds leaves TOST without power at n = 8.
    assert stats.tost_power(0.05, 8, 8, 1.05, 0.05) < 0.5
    same = stats.crn_pair("p", "x", "y", b, b, 0.95, 1.05, 0.05)
    assert same["equivalent"] and same["ci_low"] == same["ci_high"] == 1.0


def test_a_nonlinear_variant_shares_the_gap_between_the_frameworks_of_its_baseline():
    """torch/relu is 0.77× keras/relu; aligning init and Adam (relu_aligned) closes that whole difference."""
    rng = np.random.default_rng(4)
    seed_effect = rng.normal(scale=0.05, size=10)
    rows = []
    for s in range(10):
        rows += [dict(framework="keras", variant=v, device="cpu", seed=s, diverged=False,
                      val_mse=level * np.exp(rng.normal(scale=0.05))) for v, level in
                 (("as_posted", 0.003), ("relu", 0.001))]
        rows += [dict(framework="torch", variant=v, device="cpu", seed=s, diverged=False,
                      val_mse=level * np.exp(seed_effect[s])) for v, level in
                 (("as_posted", 0.015), ("relu", 0.00077), ("relu_aligned", 0.001))]
    runs = pd.DataFrame(rows)
    variants = {"as_posted": {}, "relu": {"switches": {"activation": "relu"}, "question": "nonlinear"},
                "relu_aligned": {"switches": {"activation": "relu", "adam_rule": "keras"}, "baseline": "relu",
                                 "question": "nonlinear"}}
    table, _ = stats.attribution(runs, variants, REFERENCE, **SETTINGS)
    row = table.set_index("variant").loc["relu_aligned"]
    assert row.gap == "torch/relu against keras/relu" and row.direction == "apply"
    assert row.share_of_gap == pytest.approx(1.0, abs=0.15)
    across = stats.across_frameworks(runs, 0.95, 1.05, 0.05).set_index("variant")
    assert across.loc["relu", "mse_ratio"] == pytest.approx(0.77, rel=0.05)
    assert across.loc["relu", "ci_high"] < 1 and "relu_aligned" not in across.index
