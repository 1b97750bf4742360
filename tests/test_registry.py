"""The registry is the one place names live: everything that names a framework, switch, figure or page agrees."""

import importlib
import inspect
import os
import re
import stat

import pytest

from gapstudy import config as study_config
from gapstudy.studies.seed import figures
from gapstudy import registry
from gapstudy.registry import FAMILIES, FIGURES, FRAMEWORKS, PAGES, SWITCHES


def test_the_schema_takes_its_frameworks_and_devices_from_the_registry():
    schema = study_config.load_schema()
    assert schema["$defs"]["framework"]["enum"] == list(FRAMEWORKS)
    assert schema["$defs"]["device"]["enum"] == list(registry.DEVICES)
    enums = [line for line in study_config.SCHEMA.read_text().splitlines() if "enum" in line]
    for name in list(FRAMEWORKS) + list(registry.DEVICES):
        assert not [line for line in enums if re.search(rf"\b{name}\b", line)], f"{name} typed in the schema"


@pytest.mark.parametrize("name", sorted(FRAMEWORKS))
def test_every_framework_has_a_trainer_and_valid_devices(name):
    spec = FRAMEWORKS[name]
    assert spec.family in FAMILIES and set(spec.devices) <= set(registry.DEVICES)
    assert spec.backend in registry.BACKENDS
    # A Keras framework names its Keras package (one per process: gapstudy.studies.seed.run); PyTorch's none.
    assert (spec.keras in ("keras", "tf_keras")) == (spec.family == "keras")
    assert importlib.util.find_spec(spec.trainer) is not None


@pytest.mark.parametrize("name", sorted(SWITCHES))
def test_every_switch_has_a_valid_posted_default_and_code_for_its_values(name):
    spec = SWITCHES[name]
    assert spec.name == name and spec.doc and set(spec.families) <= set(FAMILIES)
    if spec.number:
        assert spec.number in ("positive", "integer", "fraction") and not spec.values
        assert (spec.maximum is None) == (spec.number == "fraction")
        return
    for family in spec.families:
        assert spec.default_for(family) in spec.values, f"{name}: posted {family} default"
    assert set(spec.code) <= set(spec.values)
    # Every value a user can switch to from a posted default says what to change in the code.
    posted = {spec.default_for(f) for f in spec.families}
    assert set(spec.values) - posted <= set(spec.code), f"{name}: values without a code change"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_has_a_drawing_function_taking_its_tables(name):
    spec = FIGURES[name]
    parameters = list(inspect.signature(getattr(figures, name)).parameters)
    assert parameters[len(spec.tables):] == ["path", "intervals"]
    assert len(parameters) == len(spec.tables) + 2


def test_pages_and_figures_have_captions_and_categories():
    categories = {registry.RQ1, registry.RQ2, registry.RQ3, registry.RQ4, registry.RQ5, registry.PROVENANCE}
    for spec in list(PAGES.values()) + list(FIGURES.values()):
        assert spec.caption and spec.category in categories
        spec.caption.format(level="95")  # a caption names no placeholder but {level}


def test_paths_are_built_from_one_template():
    assert registry.record("torch", "as_posted", "cpu", 3, 0) == "results/runs/draw0/torch/as_posted/cpu/seed3.json"
    assert registry.table("runs") == "results/tables/runs.csv"
    assert registry.benchmark("train/torch/a/cpu") == "results/benchmarks/train/torch/a/cpu.tsv"


def test_the_switch_table_lists_every_switch():
    table = registry.switch_table()
    for name in SWITCHES:
        assert f"| `{name}` |" in table


def test_atomic_writes_take_the_users_umask(tmp_path):
    from gapstudy.io import atomic_write_text

    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    atomic_write_text(tmp_path / "b.txt", "x")
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o666 & ~old


def test_a_training_job_hashes_its_own_trainer_only():
    from gapstudy import sources

    script = str(study_config.SCHEMA.parents[1] / "scripts" / "train.py")
    modules = sources.closure((script,))
    assert "gapstudy.studies.seed.run" in modules and "gapstudy.statistics.stats" not in modules
    assert not {"gapstudy.frameworks.train_torch", "gapstudy.frameworks.train_keras"} & set(modules)
    assert "gapstudy.frameworks.train_torch" in sources.closure((script, "gapstudy.frameworks.train_torch"))
    assert sources.code_sha256(script, "gapstudy.frameworks.train_torch") != sources.code_sha256(script, "gapstudy.frameworks.train_keras")
    # The stacked paths belong to their trainers, and neither trainer reaches the other.
    torch_side, keras_side = (set(sources.closure((script, f"gapstudy.frameworks.train_{f}"))) for f in ("torch", "keras"))
    assert "gapstudy.frameworks.torch_stacked" in torch_side and "gapstudy.frameworks.keras_stacked" in keras_side
    assert not {"gapstudy.frameworks.train_keras", "gapstudy.frameworks.keras_stacked"} & torch_side
    assert not {"gapstudy.frameworks.train_torch", "gapstudy.frameworks.torch_stacked"} & keras_side


def test_no_script_reads_the_config_or_edits_the_path():
    scripts = study_config.SCHEMA.parents[1] / "scripts"
    for path in scripts.rglob("*.py"):  # the catalogue's too
        text = path.read_text()
        assert "snakemake.config" not in text, path.name
        assert "sys.path" not in text, path.name
