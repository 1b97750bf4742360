"""A port's diagnosis: the check before anything trains, the lock-step trace, the probes, the ranked causes.

``check`` builds both sides, maps their layers and runs the user's loop for two steps, so that a bad
entry point, a shape that does not match, an unmapped layer or a loop that raises stops the workflow
before any job, named (``ConfigError``). ``diagnose`` traces the port against Keras for
``lockstep.epochs`` epochs (``engine``), runs the probes on what it saw (``probes``) and ranks the
causes: a probe whose signature is the kind of tensor where the port first left Keras comes first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gapstudy.config import ConfigError
from gapstudy.trace import engine
from gapstudy.studies.port import fixes, probes, sides
from gapstudy.studies.port.lockstep import Setup, check_start, compare_runs, control_run, init_rows, plan, traced_run
from gapstudy.trace.observe import Observer, StopTraining


def check(config: dict) -> None:
    """Everything that can be refused before training: entry points, data, shapes, the mapping, the loop
    (two steps of it). Raises ``ConfigError`` naming the key."""
    s = Setup(config, config["lockstep"]["seed"])
    observer = Observer(s.tp, s.X_torch, s.channels_first, stop_after=2)
    try:
        sides.run_loop(s.entries, s.tp, 1)
    except StopTraining:
        pass
    except sides.LoopError as error:
        raise ConfigError(str(error)) from None
    finally:
        observer.detach()
    key = s.entries.loop_key
    if not observer.steps:
        raise ConfigError(f"{key}: the loop ran an epoch without stepping the optimizer that port.torch.build "
                          f"returned ({type(s.tp.optimizer).__name__}); allowed: a loop that steps that optimizer")
    if any(st.get("input") is None for st in observer.steps):
        raise ConfigError(f"{key}: the model's forward hooks saw no training batch (does the loop call "
                          "model.forward(x) instead of model(x)?); allowed: a loop that calls the model")
    if any(st["rows"] is None for st in observer.steps):
        raise ConfigError(f"{key}: a training batch holds rows that are not rows of the training data "
                          "(augmentation, normalisation or a reshape in the loop?); Keras could not replay it")
    X_val = sides.torch_layout(s.port, s.data["X_val"][:4])
    try:
        sides.score(s.port, s.entries, s.data["y_val"][:4], sides.predict_torch(s.entries, s.tp, X_val))
    except Exception as error:
        raise ConfigError(f"port.torch.predict: the port's validation output on 4 rows cannot be scored "
                          f"({s.port['metric']}): {type(error).__name__}: {error}") from None
    try:
        engine.KerasReplay(s.keras, [layer.name for layer, _, _ in s.pairs], [])
    except Exception as error:
        raise ConfigError(f"port.keras.model: Keras' train step cannot be replayed layer by layer "
                          f"({type(error).__name__}: {error}); allowed: a Sequential or functional model") from None


def diagnose(config: dict, data: dict | None = None, log=print) -> tuple[pd.DataFrame, dict, list[dict]]:
    """Trace the port against Keras; (every traced row, the trace's summary, the ranked findings)."""
    lock = config["lockstep"]
    seed, epochs = lock["seed"], lock["epochs"]
    s = Setup(config, seed, data)
    check_start(s, lock)
    init = init_rows(config, s)
    facts_keras, facts_torch = probes.keras_facts(s.keras, s.port["keras"]["fit"]), probes.torch_facts(s.tp)
    p = plan(s)
    run = traced_run(s, p, lock, epochs, seed, log)
    observer = run["observer"]
    if any(st["rows"] is None for st in observer.steps):
        raise RuntimeError("a batch of the port's loader holds rows that are not rows of the training data "
                           "(augmentation, or another dtype?): Keras cannot replay it")
    evidence = probes.Evidence(keras=facts_keras, torch=facts_torch, pairs=s.pairs, steps=observer.steps,
                               eval_calls=observer.eval_calls, scheduler_calls=observer.scheduler_calls,
                               has_train_behaviour=observer.has_train_behaviour, init_rows=init,
                               per_epoch={"rows": [np.concatenate(e) for e in run["epoch_rows"] if e]})
    found = probes.run(evidence)
    # The control: the port with every fix the workflow applies, from the same weights, on the port's rows
    # and with the port's dropout masks; a difference it shares with the port is not the port's.
    fixable = [f["probe"] for f in found if applicable(f["probe"], s)]
    control = None
    if fixable:
        c = Setup(config, seed, s.data, s.entries)
        ctx = fixes.Context(keras=facts_keras, pairs=c.pairs, seed=seed, keras_model=None,
                            batch_size=s.port["keras"]["fit"]["batch_size"])
        fixes.apply([n for n in fixable if n not in fixes.LOADER_FIXES], c.tp, ctx, "objects")
        control = control_run(s, c, p, run, lock, epochs, seed, log)
    steps, result = compare_runs(s, p, run, control, init, lock, epochs, port=s.port["name"])
    result["control"] = ", ".join(fixable) if control is not None else None
    return steps, result, rank(found, result, s)


def applicable(name: str, s: Setup) -> bool:
    """Whether the workflow can apply the fix of ``name`` to this port by itself."""
    import torch
    from torch.utils.data import DataLoader

    if name not in fixes.FIXES:
        return False
    if name in ("double_softmax", "sigmoid_bce_logits"):
        return any(isinstance(m, (torch.nn.Softmax, torch.nn.Sigmoid)) for m in s.tp.model.modules())
    if name == "sum_reduction":
        return hasattr(s.tp.loss_fn, "reduction")
    if name in fixes.LOADER_FIXES:
        return isinstance(s.tp.loader, DataLoader)
    if name == "lr_schedule_per_epoch":
        # ReduceLROnPlateau steps on a metric, not per batch.
        return s.tp.scheduler is not None and not isinstance(s.tp.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if name == "adam_epsilon":
        # Keras' Adam rule in place of AdamW's would turn its decoupled decay into L2.
        return not isinstance(s.tp.optimizer, torch.optim.AdamW)
    return True


def rank(found: list[dict], result: dict, s: Setup) -> list[dict]:
    """The findings ranked: those whose signature is the first divergence's kind first, then in
    ``probes.PROBES`` order; each with its story's title and fix and whether the workflow applies it."""
    # A signature matches the first divergence, or the first from the same weights (after step 0).
    first = {result.get("first_kind"), result.get("traced_first_kind")} - {None}
    out = []
    for f in found:
        story = probes.story(f["probe"])
        out.append(f | {"title": story.title, "fix": story.fix, "source": story.source,
                        "signature": probes.SIGNATURES[f["probe"]],
                        "matches_first_divergence": probes.SIGNATURES[f["probe"]] in first,
                        "auto_fix": applicable(f["probe"], s)})
    out.sort(key=lambda f: (not f["matches_first_divergence"], list(probes.PROBES).index(f["probe"])))
    for i, f in enumerate(out, 1):
        f["rank"] = i
    return out
