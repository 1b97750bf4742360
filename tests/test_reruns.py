"""Every answer current: a config or code edit reruns exactly the rules that depend on it.

Each case edits a finished tiny study's config (or a module of its package)
and dry-runs: the set of jobs Snakemake would run must be the expected one.
Reviewers: add a case as (id, edit, expected jobs).
"""

import re
import shutil

import pytest
import yaml

from conftest import snakemake

pytestmark = pytest.mark.workflow

# What reruns below the statistics: the tables' pages, figures, front page, provenance, run time.
REPORT = {"page", "figure", "answer", "provenance", "runtime", "all"}
ALL_TRAIN = {(f, v) for v, fs in {
    "as_posted": ("torch", "keras", "keras_torch", "keras2", "keras_jax"), "fixed": ("torch",), "init_keras": ("torch",),
    "adam_keras": ("torch",), "aligned": ("torch",), "aligned_but_posted_shapes": ("torch",),
    "aligned_but_xavier_normal": ("torch",), "aligned_but_torch_adam": ("torch",),
    "relu": ("torch", "keras"), "tanh": ("torch", "keras"), "relu_aligned": ("torch",),
    "tanh_aligned": ("torch",)}.items() for f in fs}
AFTER_TRAINING = {"aggregate", "statistics", "determinism", "draws"} | REPORT
# The training jobs as (framework, variant, dataset draw): the study's draw 0, and
# tiny.yaml's other draw 1 with the arms of the hypotheses it names (gap, fix).
STUDY_TRAIN = {(f, v, "0") for f, v in ALL_TRAIN}
DRAW_TRAIN = {("torch", "as_posted", "1"), ("torch", "fixed", "1"), ("keras", "as_posted", "1")}
EVERY_TRAIN = STUDY_TRAIN | DRAW_TRAIN


def dry_run(workdir, config: dict):
    """The jobs a dry run with ``config`` would run: {rule: count} and the training jobs' (framework, variant)."""
    path = workdir / "config" / "edited.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    out = snakemake(workdir, "-n", "--cores", "2", "--configfile", "config/edited.yaml")
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return {}, set()
    stats = text.split("Job stats:")[1].split("total")[0]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}
    train = {(f, v, d) for d, f, v in re.findall(
        r"rule train:\n(?:.*\n)*?\s+wildcards: draw=(\d+), framework=(\w+), variant=(\w+), device=cpu", text)}
    return counts, train


def tiny(study):
    return yaml.safe_load((study / "config/tiny.yaml").read_text())


def edit(**changes):
    """An edit: ``key__subkey=value`` sets a nested key; a callable value gets the config and changes it."""
    def apply(cfg):
        for key, value in changes.items():
            *parents, last = key.split("__")
            node = cfg
            for parent in parents:
                node = node[parent]
            if callable(value):
                value(node[last])
            elif value is None:
                node.pop(last)
            else:
                node[last] = value
        return cfg
    return apply


def reordered(cfg):
    """The same config with every mapping's keys in reverse order."""
    def flip(node):
        return {k: flip(node[k]) for k in reversed(list(node))} if isinstance(node, dict) else node
    return flip(cfg)


STATISTICS_ONLY = ({"statistics"} | REPORT, set())
# Keys the dataset-draw table reads too (the reference, the hypotheses, margin and α) ...
STATISTICS_AND_DRAWS = ({"statistics", "draws"} | REPORT, set())
# ... and the common-random-numbers table (the interval level, margin and α).
STATISTICS_AND_CRN = ({"statistics", "crn_table"} | REPORT, set())
TESTS = ({"statistics", "draws", "crn_table"} | REPORT, set())
CASES = [
    # id, edit, (rules that rerun, training jobs that rerun)
    # Nothing of the study's own draw retrains. The other draws' table compares each draw's arms with
    # the reference's runs on that draw, so the new reference (torch/aligned) trains there, alone.
    ("reference", edit(reference={"framework": "torch", "variant": "aligned"}),
     (STATISTICS_AND_DRAWS[0] | {"train"}, {("torch", "aligned", "1")})),
    # Without other draws, a new reference retrains nothing at all.
    ("reference, no other draws", edit(reference={"framework": "torch", "variant": "aligned"},
                                       dataset_draws=None), (STATISTICS_ONLY[0], set())),
    ("statistics.confidence_level", edit(statistics__confidence_level=0.9), STATISTICS_AND_CRN),
    ("statistics.bootstrap_resamples", edit(statistics__bootstrap_resamples=2000), STATISTICS_ONLY),
    ("statistics.bootstrap_seed", edit(statistics__bootstrap_seed=1), STATISTICS_ONLY),
    ("statistics.equivalence_margin", edit(statistics__equivalence_margin=1.25), TESTS),
    ("statistics.equivalence_alpha", edit(statistics__equivalence_alpha=0.025), TESTS),
    ("crn.seeds", edit(crn__seeds=[0]), ({"crn", "crn_table", "page", "answer", "provenance", "runtime", "all"},
                                         set())),
    ("a hypothesis's claim", edit(hypotheses__fix__claim="worse"), STATISTICS_AND_DRAWS),
    ("a hypothesis's description", edit(hypotheses__fix__description="Said otherwise."),
     ({"answer", "provenance", "all"}, set())),
    ("dataset_draws.training_seeds", edit(dataset_draws__training_seeds=[0]),
     ({"train", "draws", "page", "answer", "provenance", "runtime", "all"}, DRAW_TRAIN)),
    ("lockstep.tolerance", edit(lockstep__tolerance=1e-5), ({"lockstep_table"} | REPORT, set())),
    ("lockstep.seed", edit(lockstep__seed=1), ({"lockstep", "lockstep_table"} | REPORT, set())),
    ("variant description", edit(variants__fixed__description="Another description."),
     ({"provenance", "all"}, set())),
    ("variant switches", edit(variants__fixed__switches={"target_shape": "matched", "shuffle": "off"}),
     (AFTER_TRAINING | {"train"}, {("torch", "fixed", "0"), ("torch", "fixed", "1")})),
    ("a seed added", edit(seeds=[0, 1, 2]), (AFTER_TRAINING | {"train"}, STUDY_TRAIN)),
    ("a seed removed", edit(seeds=[0]), (AFTER_TRAINING | {"train"}, STUDY_TRAIN)),
    ("seeds_by_framework, other seeds", edit(seeds_by_framework={"keras_torch": [0]}),
     (AFTER_TRAINING - {"draws"} | {"train"}, {("keras_torch", "as_posted", "0")})),
    ("seeds_by_framework, the same seeds", edit(seeds_by_framework={"keras_torch": [0, 1]}),
     ({"provenance", "all"}, set())),
    ("training.epochs", edit(training__epochs=3),
     (AFTER_TRAINING | {"train", "lockstep", "lockstep_table", "crn", "crn_table"}, EVERY_TRAIN)),
    ("repeat_runs", edit(repeat_runs=1), (AFTER_TRAINING | {"train"}, EVERY_TRAIN)),
    # How many seeds train together changes no bit (tests/test_robustness.py): no training job
    # reruns; only the provenance page, which lists the config.
    ("stack_seeds", edit(stack_seeds=1), ({"provenance", "all"}, set())),
    ("partial_results", edit(partial_results=True), (AFTER_TRAINING - {"draws"}, set())),
    ("keys reordered", reordered, (set(), set())),
]


@pytest.mark.parametrize("change, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_config_edit_reruns_exactly_what_depends_on_it(study, change, expected):
    counts, train = dry_run(study, change(tiny(study)))
    rules, train_jobs = expected
    assert set(counts) == rules
    assert train == train_jobs
    if "train" in rules:
        assert counts["train"] == len(train_jobs)


@pytest.fixture
def study_copy(study, tmp_path):
    """A copy of the finished tiny study (results and Snakemake's records) whose code a test may edit."""
    dest = tmp_path / "study"
    shutil.copytree(study, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


KERAS3_TRAIN = {("keras", "as_posted", "0"), ("keras", "relu", "0"), ("keras", "tanh", "0"),
                ("keras_torch", "as_posted", "0"), ("keras_jax", "as_posted", "0"), ("keras", "as_posted", "1")}


@pytest.mark.parametrize("module, expected", [
    ("statistics/stats.py", (TESTS[0] - {"provenance"}, set())),
    # Keras 3's model (its builder, device and thread settings): every Keras 3 training job, and the
    # lock-step and common-random-numbers sides, which build it too.
    ("frameworks/keras_model.py", (AFTER_TRAINING | {"train", "lockstep", "lockstep_table", "crn", "crn_table"},
                                   KERAS3_TRAIN)),
    # Keras 3's seed-by-seed fit and its dispatcher: the training jobs only (the lock-step steps Keras'
    # own train_step on the model, and common random numbers train stacked).
    ("frameworks/train_keras.py", (AFTER_TRAINING | {"train"}, KERAS3_TRAIN)),
    # Keras 2's trainer is its own code: an edit retrains Keras 2 and reruns the rules that may run it
    # (the lock-step and common-random-numbers sides), nothing else.
    ("frameworks/train_keras2.py", (AFTER_TRAINING - {"draws"} | {"train", "lockstep", "lockstep_table", "crn", "crn_table"},
                         {("keras2", "as_posted", "0")})),
    ("registry.py", (AFTER_TRAINING | {"train", "lockstep", "lockstep_table", "crn", "crn_table"}, EVERY_TRAIN)),
], ids=["stats.py", "keras_model.py", "train_keras.py", "train_keras2.py", "registry.py"])
def test_a_module_edit_reruns_the_rules_that_run_it(study_copy, module, expected):
    path = study_copy / "src" / "gapstudy" / module
    path.write_text(path.read_text() + "\n# an edit\n")
    counts, train = dry_run(study_copy, tiny(study_copy))
    rules, train_jobs = expected
    assert set(counts) == rules
    assert train == train_jobs
