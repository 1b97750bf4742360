"""A port's arms over seeds: Keras' ``fit``, the user's loop unchanged, and the loop with fixes applied.

Arms (``arms``): ``keras``, ``port`` (the user's code as it is), ``fixed`` (every fix the diagnosis
could apply, at once), then one arm per fix (the port with that fix alone). Every PyTorch arm at seed
``s`` starts from the same global seed, so that a fix's effect is paired by seed; the Keras arm draws
its own numbers (its comparisons with the port are unpaired).
"""

from __future__ import annotations

import json
import math
import time

from gapstudy.studies.port import fixes, probes, sides, spec
from gapstudy.trace import mapping

KERAS, PORT, FIXED = "keras", "port", "fixed"


def arms(findings: list[dict]) -> list[str]:
    """Every arm a diagnosis asks for: keras, port, fixed, then each automatic fix alone (in rank order)."""
    return [KERAS, PORT, FIXED] + fix_arms(findings)


def fix_arms(findings: list[dict]) -> list[str]:
    return [f["probe"] for f in findings if f["auto_fix"]]


def arm_fixes(arm: str, findings: list[dict]) -> list[str]:
    """The fixes an arm applies (none for keras and port)."""
    if arm in (KERAS, PORT):
        return []
    if arm == FIXED:
        return fix_arms(findings)
    if arm not in fix_arms(findings):
        raise KeyError(f"no arm {arm!r}; the diagnosis has {', '.join(arms(findings))}")
    return [arm]


def seed_jobs(seeds: list, per_job: int) -> list[list]:
    """An arm's seeds as its training jobs: consecutive runs of at most ``per_job`` seeds, in order
    (``port.seeds_per_job``); job ``i`` trains ``seed_jobs(...)[i]``."""
    if per_job < 1:
        raise ValueError(f"port.seeds_per_job: {per_job!r} is not allowed; allowed: an integer ≥ 1")
    return [list(seeds[first:first + per_job]) for first in range(0, len(seeds), per_job)]


def torch_run(config: dict, entries: spec.Entries, data: dict, seed: int, epochs: int, names=()) -> dict:
    """The user's loop from seed ``seed`` with the fixes ``names`` applied; the validation output."""
    port = config["port"]
    start = time.perf_counter()
    X_torch = sides.torch_layout(port, data["X_train"])
    keras_model = sides.build_keras(entries, seed, data["X_train"][:2]) if names else None
    tp = sides.build_torch(entries, seed)
    if names:
        import torch

        example = torch.from_numpy(X_torch[:2])
        pairs = mapping.pair(keras_model, tp.model, example, port["mapping"])
        ctx = fixes.Context(keras=probes.keras_facts(keras_model, port["keras"]["fit"]), pairs=pairs, seed=seed,
                            keras_model=keras_model, batch_size=port["keras"]["fit"]["batch_size"])
        # Neither the pairing (a forward pass under torch.random.fork_rng) nor a fix draws from the global
        # generators: the loader and the loop draw the same numbers with or without fixes.
        fixes.apply(names, tp, ctx, "objects")
    batch = port["keras"]["fit"]["batch_size"]
    tp.loader = sides.make_loader(entries, X_torch, data["y_train"], batch)
    tp.val_loader = sides.make_loader(entries, sides.torch_layout(port, data["X_val"]), data["y_val"], batch)
    if names:
        fixes.apply(names, tp, ctx, "loader")
    sides.run_loop(entries, tp, epochs)
    output = sides.predict_torch(entries, tp, sides.torch_layout(port, data["X_val"]))
    tp.detach_hooks()
    return {"output": output, "wall_seconds": time.perf_counter() - start}


def train_arm(config: dict, arm: str, findings: list[dict], data: dict, seeds, log=print) -> list[dict]:
    """Train ``arm`` once per seed; one row per seed: the metric, whether it diverged, the times."""
    port = config["port"]
    entries = spec.Entries(port)
    epochs = spec.epochs(port)
    names = arm_fixes(arm, findings)
    rows = []
    for seed in seeds:
        if arm == KERAS:
            result = sides.fit_keras(entries, data, seed, epochs)
        else:
            result = torch_run(config, entries, data, seed, epochs, names)
        value = sides.score(port, entries, data["y_val"], result["output"])
        rows.append({"port": port["name"], "arm": arm, "seed": int(seed), "epochs": epochs,
                     "fixes": json.dumps(names), "metric": port["metric"], "value": value,
                     "diverged": not math.isfinite(value), "wall_seconds": result["wall_seconds"]})
        log(f"{port['name']}/{arm} seed {seed}: {port['metric']} {value:.6g} in {result['wall_seconds']:.1f} s")
    return rows
