import copy
import re

import pytest

from gapstudy import config as study_config
from gapstudy.config import ConfigError

from conftest import ROOT

DEFAULT = study_config.load(ROOT / "config" / "config.yaml")


def validate(cfg, devices=("cpu",)):
    return study_config.validate(cfg, available_devices=list(devices))


def test_shipped_configs_are_valid_and_the_default_is_the_posted_study():
    cfg = validate(DEFAULT)
    assert len(cfg["seeds"]) >= 10 and cfg["training"]["epochs"] == 100
    assert cfg["training"]["learning_rate"] == 1e-3 and cfg["training"]["epsilon"] == 1e-7
    assert cfg["training"]["beta_2"] == 0.9999 and cfg["training"]["batch_size"] == 32
    tiny = validate(study_config.load(ROOT / "config" / "tiny.yaml"))
    assert len(tiny["seeds"]) == 2 and tiny["training"]["epochs"] == 2


def test_runs_cover_frameworks_variants_seeds_and_devices():
    cfg = validate(DEFAULT)
    runs = study_config.runs(cfg)
    pairs = {(r["framework"], r["variant"]) for r in runs}
    for framework, variant in pairs:
        seeds = [r["seed"] for r in runs if (r["framework"], r["variant"]) == (framework, variant)]
        assert seeds == study_config.seeds(cfg, framework, variant)
    assert {("torch", "as_posted"), ("keras", "as_posted"), ("torch", "fixed"), ("torch", "aligned"),
            ("keras_torch", "as_posted")} <= pairs


def test_the_default_config_runs_the_seeds_its_power_analysis_asks_for():
    """Every arm of a primary claim: TOST at the config's margin with 90 % power at the design values
    config/config.yaml states (pooled SD of log MSE 0.053, a true ratio of 1.01): 33 seeds."""
    import numpy as np

    from gapstudy.statistics.stats import seeds_for_power

    cfg = validate(DEFAULT)
    st = cfg["statistics"]
    needed = seeds_for_power(0.053, st["equivalence_margin"], st["equivalence_alpha"], 0.9, np.log(1.01))
    assert needed == 33
    arms = [(h["framework"], h["variant"]) for h in cfg["hypotheses"].values()]
    for framework, variant in arms + [(cfg["reference"]["framework"], cfg["reference"]["variant"])]:
        assert len(study_config.seeds(cfg, framework, variant)) >= needed, (framework, variant)


def test_a_framework_can_run_its_own_seeds():
    cfg = validate(bad(seeds_by_framework={"keras": [7]}))
    assert {r["seed"] for r in study_config.runs(cfg) if r["framework"] == "keras"} == {7}


def test_a_variant_can_run_its_own_seeds():
    """A diagnostic variant paired with its baseline runs the seeds its paired contrast needs."""
    cfg = validate(DEFAULT)
    cfg["variants"]["init_keras"]["seeds"] = [3, 4]
    runs = study_config.runs(cfg)
    assert {r["seed"] for r in runs if r["variant"] == "init_keras"} == {3, 4}
    assert [r["seed"] for r in runs if (r["framework"], r["variant"]) == ("torch", "as_posted")] == cfg["seeds"]
    with pytest.raises(ConfigError, match="variants.init_keras.seeds"):
        validate(bad(variants__init_keras__seeds=[-1]))


def test_auto_devices_take_what_exists_and_keras_skips_mps():
    cfg = validate(DEFAULT, devices=("cpu", "cuda", "mps"))
    assert cfg["devices_resolved"] == ["cpu", "cuda", "mps"]
    runs = study_config.runs(cfg)
    assert not [r for r in runs if r["framework"] == "keras" and r["device"] == "mps"]
    assert [r for r in runs if r["framework"] == "torch" and r["device"] == "mps"]


def bad(**changes):
    cfg = copy.deepcopy(DEFAULT)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = cfg
        for key in parents:
            node = node[key]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return cfg


@pytest.mark.parametrize(
    "cfg, message",
    [
        (bad(devices=["cuda"]), "config key devices: 'cuda' is not available on this machine"),
        (bad(devices=["tpu"]), "config key devices"),
        (bad(seeds=[]), "config key seeds"),
        (bad(seeds=[1, 1]), "config key seeds"),
        (bad(seeds=[0, -1]), "config key seeds.1"),
        (bad(training__learning_rate=0), "config key training.learning_rate"),
        (bad(training__epochs=2.5), "config key training.epochs"),
        (bad(training__batch_size="32"), "config key training.batch_size"),
        (bad(threads_per_job=0), "config key threads_per_job"),
        (bad(dataset__scaling="zscore"), "config key dataset.scaling"),
        (bad(variants__as_posted__frameworks=["jax"]), "config key variants.as_posted.frameworks.0"),
        (bad(variants__fixed__switches={"target_shape": "flat"}), "config key variants.fixed.switches: switch 'target_shape' has value 'flat'"),
        (bad(variants__fixed__switches={"optimiser": "sgd"}), "config key variants.fixed.switches: unknown switch 'optimiser'"),
        (bad(reference__variant="nope"), "config key reference.variant: 'nope' is not a variant"),
        (bad(reference__variant="fixed"), "config key reference: variant 'fixed' does not run framework 'keras'"),
        (bad(variants__as_posted__frameworks=["keras"]), "config key variants.fixed.baseline: baseline 'as_posted' does not run torch"),
        (bad(statistics__confidence_level=1.5), "config key statistics.confidence_level"),
        (bad(statistics__equivalence_margin=0.9), "config key statistics.equivalence_margin"),
        (bad(variants__fixed__baseline="nope"), "config key variants.fixed.baseline: 'nope' is not another variant"),
        (bad(variants__as_posted__switches={"graph": "create_graph"}), "exists only for torch, not for keras"),
        (bad(training=KeyError), "'training' is a required property"),
        (bad(colour="blue"), "Additional properties are not allowed"),
        (bad(training__epochs=10**9), "config key training.epochs: 1000000000 is greater than the maximum of 100000"),
        (bad(statistics__equivalence_margin=0), "config key statistics.equivalence_margin: 0 is less than or equal"),
        (bad(statistics__equivalence_margin=-1.05), "config key statistics.equivalence_margin"),
        (bad(seeds=[0.5]), "config key seeds.0: 0.5 is not of type 'integer'"),
        (bad(dataset__n_train=0), "config key dataset.n_train"),
        (bad(variants__fixed__switches={"epochs": 10**9}),
         "switch 'epochs' has value 1000000000; allowed: a positive integer up to 100000"),
        (bad(variants__fixed__switches={"learning_rate": 0}), "switch 'learning_rate' has value 0"),
        (bad(variants=["as_posted"]), "config key variants: ['as_posted'] is not of type 'object'"),
        (bad(lockstep__pairs__posted__a__variant="nope"),
         "config key lockstep.pairs.posted.a.variant: 'nope' is not a variant"),
        (bad(variants__keras_f64={"description": "x", "frameworks": ["keras_jax"], "switches": {"dtype": "float64"}}),
         "config key variants.keras_f64.switches.dtype: 'float64' is not available on keras_jax"),
        (bad(lockstep__pairs__posted__a__framework="keras_torch"),
         "config key lockstep.pairs.posted.a.framework: 'keras_torch' has no lock-step side"),
        (bad(hypotheses__fix__variant="nope"), "config key hypotheses.fix: torch/nope is not a framework and variant"),
        (bad(hypotheses__fix__claim="better"), "config key hypotheses.fix.claim: 'better' is not one of"),
        (bad(hypotheses__fix__framework="keras", hypotheses__fix__variant="as_posted"),
         "config key hypotheses.fix: the reference cannot be tested against itself"),
        (bad(crn__pairs__aligned__a={"framework": "torch", "variant": "as_posted"}),
         "config key crn.pairs.aligned: the two sides draw their initial weights differently"),
        (bad(crn__pairs__aligned__b={"framework": "jax", "variant": "as_posted"}), "config key crn.pairs.aligned.b.framework"),
        (bad(dataset_draws={"seeds": [0], "training_seeds": [0], "hypotheses": ["gap"]}),
         "config key dataset_draws.seeds: 0 is the study's own draw"),
        (bad(dataset_draws={"seeds": [1], "training_seeds": [0], "hypotheses": ["nope"]}),
         "config key dataset_draws.hypotheses: 'nope' is not a declared hypothesis"),
        (bad(partial_results="yes"), "config key partial_results"),
        (bad(repeat_runs=-1), "config key repeat_runs"),
        (bad(seeds_by_framework={"jax": [0]}), "config key seeds_by_framework"),
        (bad(seeds_by_framework={"keras_torch": []}), "config key seeds_by_framework.keras_torch"),
        (bad(variants__as_posted__frameworks=["torch", "keras"], seeds_by_framework={"keras_torch": [0]}),
         "config key seeds_by_framework.keras_torch: no variant runs keras_torch"),
    ],
)
def test_bad_config_is_refused_with_a_message_naming_the_key(cfg, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate(cfg)


def test_diagnosis_config_varies_every_switch_and_runs_nonlinear_models_in_both_frameworks():
    from gapstudy.registry import SWITCHES

    cfg = validate(study_config.load(ROOT / "config" / "diagnosis.yaml"))
    varied = {k for v in cfg["variants"].values() for k in (v.get("switches") or {})}
    assert varied == set(SWITCHES)
    nonlinear = [v for v in cfg["variants"].values() if v.get("question") == "nonlinear"]
    assert {a for v in nonlinear for a in [v["switches"]["activation"]]} == {"relu", "tanh"}
    # Each activation in both frameworks, and aligned in PyTorch against its baseline.
    assert all(set(v["frameworks"]) == {"torch", "keras"} for v in nonlinear if "baseline" not in v)
    assert {v["baseline"] for v in nonlinear if "baseline" in v} == {"relu", "tanh"}
    assert set(DEFAULT["variants"]) <= set(cfg["variants"])
