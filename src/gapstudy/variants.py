"""A variant is a named set of switches over a framework's posted code.

Every switch (``gapstudy.registry.SWITCHES``) has the posted behaviour of
each framework as its default, so the empty set of switches *is* the user's
code in that framework (variant ``as_posted``). Switches that exist in one
family of code only say so; asking for them in another is a config error.
"""

from __future__ import annotations

import numbers

from gapstudy.registry import FAMILIES, NUMBER_KINDS, SWITCHES, family

# Numeric switches fall back to the config's `training` section.
NUMERIC_FROM_TRAINING = tuple(name for name, spec in SWITCHES.items() if spec.number)


def number_allowed(spec, value) -> bool:
    """Whether ``value`` is a number of the switch's kind, within its maximum."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
        return False
    if spec.number == "integer" and not isinstance(value, numbers.Integral):
        return False
    if spec.number == "fraction":
        return value < 1
    return value <= spec.maximum


def default(name: str, framework: str):
    return SWITCHES[name].default_for(framework)


def check(switches: dict | None, frameworks=FAMILIES) -> None:
    """Raise ValueError naming an unknown switch, a bad value, or a switch a framework lacks."""
    for name, value in (switches or {}).items():
        if name not in SWITCHES:
            raise ValueError(f"unknown switch {name!r}; known switches: {', '.join(SWITCHES)}")
        spec = SWITCHES[name]
        if spec.number:
            if not number_allowed(spec, value):
                raise ValueError(f"switch {name!r} has value {value!r}; allowed: {NUMBER_KINDS[spec.number]}"
                                 + (f" up to {spec.maximum:g}" if spec.maximum else ""))
        elif value not in spec.values:
            raise ValueError(f"switch {name!r} has value {value!r}; allowed: {list(spec.values)}")
        lacking = [f for f in frameworks if not spec.applies_to(f)]
        if lacking:
            raise ValueError(f"switch {name!r} exists only for {', '.join(spec.families)}, "
                             f"not for {', '.join(lacking)}")


def resolve(switches: dict | None, framework: str = "torch", training: dict | None = None) -> dict:
    """Every switch of ``framework`` with its value: the posted default unless set."""
    check(switches, (framework,))
    switches = dict(switches or {})
    resolved = {}
    for name, spec in SWITCHES.items():
        if not spec.applies_to(framework):
            continue
        if name in switches:
            resolved[name] = switches[name]
        elif spec.number:
            resolved[name] = (training or {}).get(name)
        else:
            resolved[name] = spec.default_for(framework)
    return resolved


def describe(name: str, value) -> str:
    spec = SWITCHES[name]
    return spec.values[value] if spec.values else f"{spec.doc} {value}"


def code_change(name: str, value) -> str:
    """The one-line change of the user's code that sets ``name`` to ``value`` (the report prints it)."""
    return SWITCHES[name].code.get(value, f"``{name}: {value}``")


__all__ = ["default", "check", "resolve", "describe", "code_change", "family", "NUMERIC_FROM_TRAINING"]
