"""The catalogue config (``config/catalogue.yaml``), checked before any job: every bad value is named.

Keys (documented in ``config/README.md``):

- ``catalogue.cases``: the cases to run (``cases.CASES``), each with all its pitfalls;
- ``catalogue.seeds``: the seeds every arm trains, a list of distinct integers ≥ 0 (at least 2);
- ``catalogue.epochs``: null for each case's own epochs, or an integer for every case (the tiny config);
- ``catalogue.split_seed``: the seed of every dataset's train/validation split;
- ``lockstep.seed``, ``lockstep.epochs``, ``lockstep.atol``, ``lockstep.rtol``: the trace;
- ``statistics.confidence_level``, ``alpha``, ``equivalence_margin``, ``bootstrap_resamples``,
  ``bootstrap_seed``;
- ``threads_per_job``.
"""

from __future__ import annotations

from gapstudy.studies.catalogue.cases import CASES
from gapstudy.config import ConfigError

KEYS = {
    "catalogue": {"cases", "seeds", "epochs", "split_seed"},
    "lockstep": {"seed", "epochs", "atol", "rtol"},
    "statistics": {"confidence_level", "alpha", "equivalence_margin", "bootstrap_resamples", "bootstrap_seed"},
    "threads_per_job": None,
}


def _int(value, key: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{key}: {value!r} is not allowed; allowed: an integer ≥ {least}")
    return value


def _number(value, key: str, low: float, high: float | None = None, open_low: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            (value > low if open_low else value >= low) and (high is None or value < high)):
        span = f"{'>' if open_low else '≥'} {low:g}" + (f" and < {high:g}" if high is not None else "")
        raise ConfigError(f"{key}: {value!r} is not allowed; allowed: a number {span}")
    return float(value)


def check_trace_and_statistics(config: dict) -> None:
    """The ``lockstep``, ``statistics`` and ``threads_per_job`` keys a catalogue and a port config share."""
    lock = config["lockstep"]
    _int(lock["seed"], "lockstep.seed", 0)
    _int(lock["epochs"], "lockstep.epochs", 1)
    _number(lock["atol"], "lockstep.atol", 0, open_low=False)
    _number(lock["rtol"], "lockstep.rtol", 0, open_low=False)
    st = config["statistics"]
    _number(st["confidence_level"], "statistics.confidence_level", 0, 1)
    _number(st["alpha"], "statistics.alpha", 0, 0.5)
    _number(st["equivalence_margin"], "statistics.equivalence_margin", 1)
    _int(st["bootstrap_resamples"], "statistics.bootstrap_resamples", 100)
    _int(st["bootstrap_seed"], "statistics.bootstrap_seed", 0)
    _int(config.get("threads_per_job"), "threads_per_job", 1)


def validate(config: dict) -> dict:
    """``config`` checked and completed; raises ``ConfigError`` naming the key, the value and what is allowed."""
    config = dict(config)
    for key in config:
        if key not in KEYS:
            raise ConfigError(f"{key}: unknown key of the catalogue config; allowed: {', '.join(KEYS)}")
    for section, keys in KEYS.items():
        if keys is None:
            continue
        if not isinstance(config.get(section), dict):
            raise ConfigError(f"{section}: {config.get(section)!r} is not allowed; allowed: a mapping of "
                              f"{', '.join(sorted(keys))}")
        for key in config[section]:
            if key not in keys:
                raise ConfigError(f"{section}.{key}: unknown key; allowed: {', '.join(sorted(keys))}")
        required = keys - {"epochs"} if section == "catalogue" else keys
        missing = sorted(required - set(config[section]))
        if missing:
            raise ConfigError(f"{section}.{missing[0]}: missing; the catalogue config needs {', '.join(sorted(keys))}")
    cat = config["catalogue"]
    cases = cat["cases"]
    if not isinstance(cases, list) or not cases or len(set(map(str, cases))) != len(cases):
        raise ConfigError(f"catalogue.cases: {cases!r} is not allowed; allowed: a list of distinct cases of "
                          f"{', '.join(CASES)}")
    for case in cases:
        if case not in CASES:
            raise ConfigError(f"catalogue.cases: {case!r} is not a case; allowed: {', '.join(CASES)}")
    seeds = cat["seeds"]
    if not isinstance(seeds, list) or len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ConfigError(f"catalogue.seeds: {seeds!r} is not allowed; allowed: a list of at least 2 distinct "
                          "integers ≥ 0")
    for seed in seeds:
        _int(seed, "catalogue.seeds", 0)
    if cat.get("epochs") is not None:
        _int(cat["epochs"], "catalogue.epochs", 1)
    _int(cat["split_seed"], "catalogue.split_seed", 0)
    check_trace_and_statistics(config)
    cat = dict(cat)
    cat.setdefault("epochs", None)
    config["catalogue"] = cat
    return config


def is_catalogue(config: dict) -> bool:
    """A catalogue config (it has the ``catalogue`` key), not a seed-study config."""
    return "catalogue" in config
