"""The front page's words follow the numbers: change a number, the verdict changes."""

import pandas as pd

from gapstudy import answer as report

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


def test_in_short_names_the_largest_cause_and_the_null_ones():
    shares = [("init_keras", "weight_init: xavier_normal → xavier_uniform", 0.01, -0.02, 0.03),
              ("fixed", "target_shape: posted → matched", 0.98, 0.9, 1.05)]
    text = report.in_short(comparison(5.0, 6.0), attribution(shares), CONFIG, 95)
    assert "**torch/as_posted** is worse than keras/as_posted" in text
    assert "``target_shape: posted → matched`` closes the most of the gap: 98 %" in text
    assert "No detectable part of it comes from ``weight_init: xavier_normal → xavier_uniform``" in text
    many = shares + [(f"v{i}", f"{name}: a → b{i}", 0.0, -0.02, 0.02)
                     for i, name in enumerate(["learning_rate", "learning_rate", "epsilon", "dtype"])]
    grouped = report.in_short(comparison(5.0, 6.0), attribution(many), CONFIG, 95)
    assert ("any of the other 5 single changes tested: ``weight_init``, ``learning_rate`` (2 values), "
            "``epsilon``, ``dtype``") in grouped
    flipped = report.in_short(comparison(0.9, 1.1), attribution(shares[:1]), CONFIG, 95)
    assert "not detectably different" in flipped and "closes the most" in flipped


def test_what_to_do_ranks_single_changes_by_measured_share():
    shares = [("init_keras", "weight_init: xavier_normal → xavier_uniform", 0.01, -0.02, 0.03),
              ("fixed", "target_shape: posted → matched", 0.98, 0.9, 1.05)]
    text = report.what_to_do_rst(attribution(shares), CONFIG)
    first, second = text.index("1. ``loss = mean_squared_error"), text.index("2. ``torch.nn.init.xavier_uniform_")
    assert first < second
    assert "explains no detectable part of the gap" in text[second:]


def test_equivalence_section_reports_only_fixes_with_their_verdict():
    table = pd.DataFrame([
        dict(framework="torch", variant="fixed", device="cpu", log_ratio=0.01, log_ratio_ci_low=-0.02,
             log_ratio_ci_high=0.03, tost_p=0.001, equivalent=True),
        dict(framework="torch", variant="init_keras", device="cpu", log_ratio=1.6, log_ratio_ci_low=1.5,
             log_ratio_ci_high=1.7, tost_p=1.0, equivalent=False),
    ])
    text = report.equivalence_rst(table, CONFIG)
    assert "torch/fixed on cpu: **equivalent**" in text and "init_keras" not in text
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
    from gapstudy.answer import _pct

    assert _pct(0.994) == "99.4 %" and _pct(1.78e-07) == "0.00 %" and _pct(-0.0248) == "-2.48 %"
    assert _pct(float("nan")) == "n/a"
