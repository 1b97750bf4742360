"""A variant is a named set of switches over the posted code.

Every switch has the posted behaviour as its default, so the empty set of
switches *is* the user's code (variant ``as_posted``).
"""

from __future__ import annotations

SWITCHES: dict[str, dict] = {
    "target_shape": {
        "default": "posted",
        "values": {
            "posted": "the (N,) target against the (N, 1) prediction, as posted "
            "(in the hand-written PyTorch loss this broadcasts to an N × N matrix)",
            "matched": "prediction and target have the same shape in the loss",
        },
    },
}


def resolve(switches: dict | None) -> dict:
    """All switches with their values; unknown names or values are errors."""
    switches = dict(switches or {})
    for name, value in switches.items():
        if name not in SWITCHES:
            raise ValueError(
                f"unknown switch {name!r}; known switches: {', '.join(sorted(SWITCHES))}"
            )
        allowed = list(SWITCHES[name]["values"])
        if value not in allowed:
            raise ValueError(f"switch {name!r} has value {value!r}; allowed: {allowed}")
    return {name: switches.get(name, spec["default"]) for name, spec in SWITCHES.items()}
