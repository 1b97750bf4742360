"""requirements.txt, environment.yml and the per-rule conda envs pin the same versions."""

import re

import pytest
import yaml

from conftest import ROOT


def pins(lines):
    found = {}
    for line in lines:
        line = line.split("#")[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def pip_section(path):
    deps = yaml.safe_load(path.read_text())["dependencies"]
    return pins(next(d["pip"] for d in deps if isinstance(d, dict)))


REQUIREMENTS = pins((ROOT / "requirements.txt").read_text().splitlines())
DEV = pins((ROOT / "requirements-dev.txt").read_text().splitlines())


def test_requirements_pin_torch_to_the_cpu_build_on_disk():
    assert REQUIREMENTS["torch"] == "2.13.0"
    assert {"tensorflow-cpu", "keras", "snakemake", "numpy", "scipy", "pandas", "seaborn",
            "scikit-learn", "statsmodels"} <= set(REQUIREMENTS)


def test_environment_yml_pins_exactly_the_requirements():
    assert pip_section(ROOT / "environment.yml") == REQUIREMENTS | DEV


@pytest.mark.parametrize("env", sorted((ROOT / "workflow" / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_rule_envs_use_the_same_versions(env):
    for name, version in pip_section(env).items():
        assert REQUIREMENTS.get(name) == version, f"{env.name}: {name}=={version}"


def test_every_rule_names_an_existing_conda_env():
    rules = (ROOT / "workflow" / "rules").rglob("*.smk")  # the catalogue's too
    for path in rules:
        for env in re.findall(r'conda:\s*\n\s*"([^"]+)"', path.read_text()):
            assert (path.parent / env).resolve().is_file(), f"{path.name}: {env}"
