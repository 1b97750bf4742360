"""Check the study's config before any job runs, and list the runs it asks for."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import jsonschema
import yaml

from gapstudy import variants as variants_mod
from gapstudy.registry import DEVICES, DRAW_SWITCHES, FRAMEWORKS

# The workflow's schema; the Snakefile passes its own copy's (``workflow.basedir``).
SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value the study cannot run with; the message names key, value and what is allowed."""


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def validate(config: dict, available_devices=None, schema_path: Path = SCHEMA,
             check_available: bool = True) -> dict:
    """Raise ConfigError naming the first bad key; return the config with devices resolved.

    ``available_devices`` defaults to what PyTorch finds on this machine
    (``devices: auto`` takes them); ``check_available`` refuses a listed
    device that is not among them.
    """
    schema = load_schema(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        raise ConfigError(
            f"config key {_key(error.absolute_path)}: {error.message} "
            f"(bad value: {error.instance!r}; see config/README.md)"
        )

    for name, variant in config["variants"].items():
        try:
            variants_mod.check(variant.get("switches"), variant["frameworks"])
        except ValueError as error:
            raise ConfigError(f"config key variants.{name}.switches: {error}") from None
        # JAX computes in float32 unless x64 is enabled, which would change every JAX run's dtypes.
        jax = [f for f in variant["frameworks"] if FRAMEWORKS[f].backend == "jax"]
        if jax and (variant.get("switches") or {}).get("dtype") == "float64":
            raise ConfigError(f"config key variants.{name}.switches.dtype: 'float64' is not available on "
                              f"{', '.join(jax)} (JAX runs float32); allowed there: 'float32'")

    for name, variant in config["variants"].items():
        baseline = variant.get("baseline")
        if baseline is None:
            continue
        if baseline not in config["variants"] or baseline == name:
            raise ConfigError(
                f"config key variants.{name}.baseline: {baseline!r} is not another variant "
                f"(known: {', '.join(config['variants'])})"
            )
        missing = set(variant["frameworks"]) - set(config["variants"][baseline]["frameworks"])
        if missing:
            raise ConfigError(
                f"config key variants.{name}.baseline: baseline {baseline!r} does not run "
                f"{', '.join(sorted(missing))}"
            )

    used = {f for v in config["variants"].values() for f in v["frameworks"]}
    for framework in config.get("seeds_by_framework") or {}:
        if framework not in used:
            raise ConfigError(
                f"config key seeds_by_framework.{framework}: no variant runs {framework} "
                f"(frameworks in use: {', '.join(sorted(used))})"
            )

    ref = config["reference"]
    if ref["variant"] not in config["variants"]:
        raise ConfigError(
            f"config key reference.variant: {ref['variant']!r} is not a variant in "
            f"config key variants (known: {', '.join(config['variants'])})"
        )
    if ref["framework"] not in config["variants"][ref["variant"]]["frameworks"]:
        raise ConfigError(
            f"config key reference: variant {ref['variant']!r} does not run framework "
            f"{ref['framework']!r} (its frameworks: {config['variants'][ref['variant']]['frameworks']})"
        )

    for name, spec in (config.get("hypotheses") or {}).items():
        check_arm(config, spec, f"hypotheses.{name}")
        if (spec["framework"], spec["variant"]) == (ref["framework"], ref["variant"]):
            raise ConfigError(f"config key hypotheses.{name}: the reference cannot be tested against itself")

    draws = config.get("dataset_draws") or {}
    for name in draws.get("hypotheses", []):
        if name not in (config.get("hypotheses") or {}):
            raise ConfigError(f"config key dataset_draws.hypotheses: {name!r} is not a declared hypothesis "
                              f"(declared: {', '.join(config.get('hypotheses') or {}) or 'none'})")
    if config["dataset"]["seed"] in draws.get("seeds", []):
        raise ConfigError(f"config key dataset_draws.seeds: {config['dataset']['seed']} is the study's own draw "
                          "(dataset.seed); list only the other draws")

    for name, pair in (config.get("crn") or {}).get("pairs", {}).items():
        for side in ("a", "b"):
            check_arm(config, pair[side], f"crn.pairs.{name}.{side}")
        draws = [{k: variants_mod.resolve(config["variants"][pair[side]["variant"]].get("switches"),
                                          pair[side]["framework"], config["training"])[k]
                  for k in DRAW_SWITCHES + ("epochs",)} for side in ("a", "b")]
        if draws[0] != draws[1]:
            raise ConfigError(
                f"config key crn.pairs.{name}: the two sides draw their initial weights differently "
                f"({draws[0]} against {draws[1]}); common random numbers need the same weight_init, bias_init "
                "and epochs on both sides"
            )

    for name, pair in (config.get("lockstep") or {}).get("pairs", {}).items():
        for side in ("a", "b"):
            framework, variant = pair[side]["framework"], pair[side]["variant"]
            if not FRAMEWORKS[framework].lockstep:
                raise ConfigError(
                    f"config key lockstep.pairs.{name}.{side}.framework: {framework!r} has no lock-step side "
                    f"(those that do: {', '.join(n for n, f in FRAMEWORKS.items() if f.lockstep)})"
                )
            if variant not in config["variants"] or framework not in config["variants"][variant]["frameworks"]:
                raise ConfigError(
                    f"config key lockstep.pairs.{name}.{side}.variant: {variant!r} is not a variant that runs "
                    f"{framework} (those that do: "
                    f"{', '.join(n for n, v in config['variants'].items() if framework in v['frameworks'])})"
                )

    if available_devices is None:
        from gapstudy.frameworks.runtime import available_devices as detect

        available_devices = detect()
    devices = list(available_devices) if config["devices"] == "auto" else list(config["devices"])
    if check_available:
        check_devices(devices, available_devices)
    resolved = dict(config)
    resolved["devices_resolved"] = devices
    return resolved


def check_arm(config: dict, spec: dict, key: str) -> None:
    """Refuse a {framework, variant} that the config does not run, naming the key and what it does run."""
    variant = config["variants"].get(spec["variant"])
    if variant is None or spec["framework"] not in variant["frameworks"]:
        raise ConfigError(
            f"config key {key}: {spec['framework']}/{spec['variant']} is not a framework and variant this "
            f"config runs (variants that run {spec['framework']}: "
            f"{', '.join(n for n, v in config['variants'].items() if spec['framework'] in v['frameworks'])})"
        )


def load_schema(path: Path = SCHEMA) -> dict:
    """The config schema, with the registry's frameworks and devices as its enums."""
    schema = yaml.safe_load(Path(path).read_text())
    schema["$defs"]["framework"] = {"enum": list(FRAMEWORKS)}
    schema["$defs"]["device"] = {"enum": list(DEVICES)}
    return schema


def check_devices(devices, available_devices) -> None:
    """Refuse a listed device this machine lacks (local runs; on a cluster the nodes have them)."""
    missing = [d for d in devices if d not in available_devices]
    if missing:
        raise ConfigError(
            f"config key devices: {missing[0]!r} is not available on this machine "
            f"(available: {', '.join(available_devices)}); use 'devices: auto' or "
            "list only available devices"
        )


def seeds(config: dict, framework: str, variant: str | None = None) -> list[int]:
    """The seeds a (framework, variant) runs: the variant's own, else the framework's
    (``seeds_by_framework``), else the study's."""
    own = (config["variants"].get(variant) or {}).get("seeds") if variant is not None else None
    if own is not None:
        return list(own)
    return list((config.get("seeds_by_framework") or {}).get(framework, config["seeds"]))


def runs(config: dict) -> list[dict]:
    """Every (framework, variant, seed, device) the validated config asks for, on its own dataset draw."""
    found = []
    draw = config["dataset"]["seed"]
    for variant, spec in config["variants"].items():
        for framework, device in product(spec["frameworks"], config["devices_resolved"]):
            if device not in FRAMEWORKS[framework].devices:
                continue
            for seed in seeds(config, framework, variant):
                found.append({"framework": framework, "variant": variant, "seed": seed, "device": device,
                              "draw": draw})
    return found


def draw_arms(config: dict) -> list[tuple[str, str]]:
    """The (framework, variant)s that run on the other dataset draws: the named hypotheses' and the reference."""
    spec = config.get("dataset_draws") or {}
    declared = config.get("hypotheses") or {}
    arms = [(declared[h]["framework"], declared[h]["variant"]) for h in spec.get("hypotheses", [])]
    ref = (config["reference"]["framework"], config["reference"]["variant"])
    return sorted(set(arms) | ({ref} if arms else set()))


def draw_runs(config: dict) -> list[dict]:
    """Every run on the other dataset draws (config key dataset_draws), on the devices that run the study."""
    spec = config.get("dataset_draws") or {}
    found = []
    for draw in spec.get("seeds", []):
        for framework, variant in draw_arms(config):
            for device in config["devices_resolved"]:
                if device not in FRAMEWORKS[framework].devices:
                    continue
                for seed in spec["training_seeds"]:
                    found.append({"framework": framework, "variant": variant, "seed": seed, "device": device,
                                  "draw": draw})
    return found


def load(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def canonical(value):
    """``value`` with every dict's keys sorted, recursively (lists keep their order).

    Snakemake compares a rule's params by their printed form: the same dict
    in another key order would count as changed and rerun the rule.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value
