"""The front page's words follow the numbers: change a number, the verdict changes."""

import pandas as pd

from gapstudy.studies.seed import answer as report

CONFIG = {
    "reference": {"framework": "keras", "variant": "as_posted"},
    "variants": {
        "as_posted": {"frameworks": ["torch", "keras"]},
        "fixed": {"frameworks": ["torch"], "switches": {"target_shape": "matched"}, "baseline": "as_posted",
                  "fix": True},
        "init_keras": {"frameworks": ["torch"], "switches": {"weight_init": "xavier_uniform"},
                       "baseline": "as_posted", "question": "diagnose"},
    },
    "statistics": {"equivalence_margin": 1.05, "equivalence_alpha": 0.05},
}


def test_verdict_reads_the_interval():
    assert report.verdict(1.2, 1.5) == "worse than the reference"
    assert report.verdict(0.5, 0.9) == "better than the reference"
    assert report.verdict(0.9, 1.1) == "not detectably different from the reference"
    assert "few seeds" in report.verdict(float("nan"), 2.0)


def comparison(ratio_low, ratio_high):
    return pd.DataFrame([dict(framework="torch", variant="as_posted", device="cpu", mse_ratio=(ratio_low + ratio_high) / 2,
                              mse_ratio_ci_low=ratio_low, mse_ratio_ci_high=ratio_high)])


def attribution(shares):
    return pd.DataFrame([dict(framework="torch", variant=v, device="cpu", direction="apply", n_switches=1,
                              switches=s, share_of_gap=m, share_ci_low=lo, share_ci_high=hi)
                         for v, s, m, lo, hi in shares])


def hypotheses(gap_p=0.001, fix_p=0.01, fix_power=0.95):
    rows = [dict(hypothesis="gap", claim="worse", framework="torch", variant="as_posted", reference="keras/as_posted",
                 device="cpu", n=10, n_reference=10, mse_ratio=5.1, ci_low=4.6, ci_high=5.6, ci_level=0.9,
                 test="one-sided Welch t on log MSE", p=gap_p, p_holm=gap_p * 2, alpha=0.05,
                 supported=gap_p * 2 < 0.05, power=1.0, seeds_for_90_percent_power=3, log_mse_sd=0.04),
            dict(hypothesis="fix", claim="equivalent", framework="torch", variant="fixed", reference="keras/as_posted",
                 device="cpu", n=10, n_reference=10, mse_ratio=1.01, ci_low=0.98, ci_high=1.04, ci_level=0.9,
                 test="TOST", p=fix_p, p_holm=fix_p * 2, alpha=0.05, supported=fix_p * 2 < 0.05, power=fix_power,
                 seeds_for_90_percent_power=18, log_mse_sd=0.04)]
    return pd.DataFrame(rows)


SHARES = [("init_keras", "weight_init: xavier_normal → xavier_uniform", 0.01, -0.02, 0.03),
          ("fixed", "target_shape: posted → matched", 0.98, 0.9, 1.05)]
DECLARED = CONFIG | {"hypotheses": {"gap": {"description": "The posted PyTorch code is worse."},
                                    "fix": {"description": "The fix is equivalent."}}}


def test_the_headline_comes_from_the_declared_claims_and_names_the_cause():
    text = report.headline(hypotheses(), attribution(SHARES), DECLARED)
    # Each variant id with what it is on first use, from the registry's words.
    assert text.startswith("**Answer** (on cpu): **torch/as_posted** (the user's PyTorch code, exactly as posted) "
                           "**is worse** than keras/as_posted (the user's Keras code (Keras 3 on TensorFlow), "
                           "exactly as posted)")
    assert "the gap is ``target_shape: posted → matched``, which closes 98 % of it" in text
    assert ("**torch/fixed** (``target_shape: matched``: prediction and target have the same shape in the loss) "
            "**is equivalent** to keras/as_posted within ×/÷1.05") in text
    weak = report.headline(hypotheses(fix_p=0.04, fix_power=0.55), attribution(SHARES), DECLARED)
    assert "is **not shown equivalent** to keras/as_posted within ×/÷1.05, reached with only 55 % power" in weak
    none = report.headline(hypotheses().iloc[:0], attribution(SHARES), DECLARED)
    assert "declares no primary hypothesis" in none


def test_the_claims_table_gives_estimate_test_corrected_p_power_and_seeds():
    lines = "\n".join(report.claims_table(hypotheses(fix_power=0.6), DECLARED))
    assert "Holm-corrected over these 2 tests" in lines and "The fix is equivalent." in lines
    assert "1.01 (0.98 to 1.04)" in lines and "- 60 %" in lines and "- 18" in lines
    assert "**supported**, reached with only 60 % power" in lines


def test_what_to_do_ranks_only_changes_with_a_detectable_share():
    text = report.what_to_do_rst(attribution(SHARES), CONFIG)
    assert "1. ``loss = mean_squared_error" in text and "2." not in text
    rest = text.index("no detectable effect on the gap (unranked)")
    assert text.index("``torch.nn.init.xavier_uniform_") > rest
    assert "explains no detectable part of the gap, though its interval reaches 3 %" in text[rest:]
    tiny = attribution([("adam_keras", "adam_rule: torch → keras", 0.0, -1e-6, 1e-6)])
    assert "explains less than 1 % of the gap, if any" in report.what_to_do_rst(
        tiny, CONFIG | {"variants": CONFIG["variants"] | {"adam_keras": {"switches": {"adam_rule": "keras"}}}})


def test_equivalence_section_reports_only_fixes_with_their_verdict():
    table = pd.DataFrame([
        dict(framework="torch", variant="fixed", device="cpu", log_ratio=0.01, log_ratio_ci_low=-0.02,
             log_ratio_ci_high=0.03, tost_p=0.001, equivalent=True, mse_ratio=1.01, mse_ratio_ci_low=0.98,
             mse_ratio_ci_high=1.03),
        dict(framework="torch", variant="init_keras", device="cpu", log_ratio=1.6, log_ratio_ci_low=1.5,
             log_ratio_ci_high=1.7, tost_p=1.0, equivalent=False, mse_ratio=4.95, mse_ratio_ci_low=4.48,
             mse_ratio_ci_high=5.47),
    ])
    text = report.equivalence_rst(table, CONFIG)
    assert "torch/fixed on cpu (exploratory): equivalent" in text and "init_keras" not in text
    assert "within a factor of 1.05" in text


def test_diagnosis_gives_the_change_where_there_is_no_gap_to_share():
    table = attribution([("fixed", "target_shape: posted → matched", 0.98, 0.9, 1.05)])
    keras_row = dict(framework="keras", variant="keras_slow", device="cpu", direction="apply", n_switches=1,
                     switches="learning_rate: 0.001 → 0.0001", share_of_gap=float("nan"),
                     share_ci_low=float("nan"), share_ci_high=float("nan"),
                     log_mse_change=0.69, change_ci_low=0.6, change_ci_high=0.8)
    table = pd.concat([table.assign(log_mse_change=-1.7, change_ci_low=-1.8, change_ci_high=-1.6),
                       pd.DataFrame([keras_row])], ignore_index=True)
    text = report.diagnosis_rst(table, CONFIG)
    assert "**keras/keras_slow** (learning_rate: 0.001 → 0.0001) changes mean log validation MSE by 0.69 (0.6 to 0.8)" in text
    assert "inf" not in text and "keras_slow" not in report.what_to_do_rst(table, CONFIG)


def test_shares_print_as_readable_percentages():
    from gapstudy.studies.seed.answer import _pct

    assert _pct(0.994) == "99.4 %" and _pct(1.78e-07) == "0.00 %" and _pct(-0.0248) == "-2.48 %"
    assert _pct(float("nan")) == "n/a"


def test_a_numerically_identical_fix_is_listed_once_with_the_sentence_that_says_so():
    row = dict(device="cpu", log_ratio=0.01, log_ratio_ci_low=-0.02, log_ratio_ci_high=0.03, tost_p=0.001,
               mse_ratio=1.01, mse_ratio_ci_low=0.98, mse_ratio_ci_high=1.03,
               equivalent=True, power=0.9, seeds_for_90_percent_power=10)
    table = pd.DataFrame([dict(framework="torch", variant="fixed", **row),
                          dict(framework="torch", variant="fixed_too", **row)])
    identical = pd.DataFrame([dict(framework="torch", device="cpu", variant="fixed_too", same_as="fixed",
                                   n_seeds=10, largest_seed_difference=1.4e-5)])
    config = CONFIG | {"variants": CONFIG["variants"] | {"fixed_too": {"fix": True}}}
    text = report.equivalence_rst(table, config, identical)
    assert text.count("geometric-mean MSE ratio") == 1
    assert "torch/fixed_too on cpu gives numerically the results of torch/fixed (every seed's log MSE within 1.4e-05)" in text


def test_the_front_page_says_whether_keras_2_and_3_agree_and_which_the_users_number_compares_with():
    def with_keras2(p, claim="equivalent"):
        row = dict(hypotheses().iloc[1]) | dict(hypothesis="keras2", framework="keras2", variant="as_posted",
                                                claim=claim, mse_ratio=1.02, ci_low=0.99, ci_high=1.05, p=p,
                                                p_holm=p, supported=p < 0.05, power=0.93)
        return pd.concat([hypotheses(), pd.DataFrame([row])], ignore_index=True)

    reported = {"percent_error_difference": 479.13, "keras": "keras2", "year": 2022}
    comparison = pd.DataFrame([dict(framework="torch", variant="as_posted", device="cpu", mse_percent_difference=466.2)])
    same = "\n".join(report.which_keras(with_keras2(0.01), comparison, CONFIG, reported))
    assert "the user's +479 % (one run per framework, 2022) compares PyTorch with Keras 2" in same
    assert "Keras 2 and Keras 3 give the same answer" in same and "1.02, 0.99 to 1.05" in same
    assert "torch/as_posted's geometric-mean validation MSE is 466 % above Keras 3's" in same
    apart = "\n".join(report.which_keras(with_keras2(0.2), comparison, CONFIG, reported))
    assert "are **not shown** to give the same answer" in apart and "the comparison with Keras 2" in apart
    # No paragraph without a Keras 2 equivalence on the reference's variant, or without the user's numbers.
    assert report.which_keras(hypotheses(), comparison, CONFIG, reported) == []
    assert report.which_keras(with_keras2(0.01, claim="worse"), comparison, CONFIG, reported) == []
    assert report.which_keras(with_keras2(0.01), comparison, CONFIG, {}) == []


def summary(posted=0.016, fixed=0.0028, keras=0.00285):
    return pd.DataFrame([dict(framework=f, variant=v, device="cpu", val_mse_gmean=m, val_pearson_r_mean=r)
                         for f, v, m, r in (("torch", "as_posted", posted, 0.2), ("torch", "fixed", fixed, 0.91),
                                            ("keras", "as_posted", keras, 0.911))])


def runs(posted_low=0.014, keras_high=0.0031):
    return pd.DataFrame([dict(framework="torch", variant="as_posted", device="cpu", val_mse=m) for m in (posted_low, 0.02)]
                        + [dict(framework="keras", variant="as_posted", device="cpu", val_mse=m)
                           for m in (0.0027, keras_high)])


def plain(**kwargs):
    tables = {"hypotheses": kwargs.pop("hypotheses", hypotheses()), "summary": kwargs.pop("summary", summary()),
              "attribution": attribution(SHARES), "runs": kwargs.pop("runs", runs())}
    config = CONFIG | {"training": {"batch_size": 32, "epochs": 100}} | kwargs.pop("config", {})
    return " ".join(report.plain_answer(tables, config, {"r_keras": 0.912, "r_torch": 0.217}))


def test_the_answer_in_the_users_words_follows_the_numbers_and_names_no_variant():
    text = plain()
    assert text.startswith("**What is wrong.** Your PyTorch training loop computes "
                           "``loss = mean_squared_error(y, ypred)``. ``y`` has shape (32,) and ``ypred`` has shape "
                           "(32, 1), so ``ytrue - ypred`` broadcasts to a (32, 32) matrix")
    assert "**The fix** is one line: ``loss = mean_squared_error(y, ypred.squeeze(-1))``" in text
    assert ("PyTorch's validation MSE falls from 0.016 to 0.0028; Keras gets 0.00285; the two are the same within "
            "5 %, tested on 10 seeds") in text
    assert "r = 0.912 for Keras against 0.217 for PyTorch" in text and "Keras reaches r = 0.911" in text
    assert "the initialisation (changed to ``torch.nn.init.xavier_uniform_(layer.weight)``" in text
    assert "change little or nothing" in text and "none of the 2 seeds of your PyTorch code comes near" in text
    assert "Not varied in this config: " in text and "the Adam optimizer" in text  # adam_rule is not in CONFIG
    assert not [name for name in ("torch/", "keras/", "as_posted", "init_keras") if name in text]


def test_the_answer_in_the_users_words_says_what_was_not_shown():
    weak = plain(hypotheses=hypotheses(gap_p=0.2, fix_p=0.2))
    assert "the two are **not shown** to be the same within 5 %" in weak
    assert "the gap itself is **not shown**" in weak
    assert "Other seeds do not help" not in plain(runs=runs(posted_low=0.002))
    assert "rises from" in plain(summary=summary(posted=0.002, fixed=0.003))
    # Without a declared fix marked fix: true there is no answer in the user's words.
    unmarked = {"variants": {**CONFIG["variants"], "fixed": {**CONFIG["variants"]["fixed"], "fix": False}}}
    assert plain(config=unmarked) == ""
