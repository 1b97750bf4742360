"""The stacked Keras paths are their per-seed ``fit`` bit for bit under oneDNN's AVX2 and AVX-512 kernels, and off.

TensorFlow's CPU kernels come in two kinds. Eigen's are compiled into the
wheel: every x86 CPU runs the same code. oneDNN's (``TF_ENABLE_ONEDNN_OPTS``,
on by default on x86) are chosen when they first run, by the CPU's
instruction set and by the shape: on AVX-512 a batched (B, 100) @ (100, 1)
product rounds differently from the 2-D one of a seed's own ``fit``, on AVX2
it does not, and so a test written on one CPU failed on the other. oneDNN's
``ONEDNN_MAX_CPU_ISA`` caps that choice, so one machine runs the kernels of
every older instruction set too: each parameter below trains, in a fresh
process, the stacked paths and each seed's own ``fit`` under one cap (or with
oneDNN off) and asks for the same bits. A cap above this CPU's own would
change nothing, so it is skipped here and runs on a CPU that has it. The
instruction sets are those of this project's machines, AVX2 and AVX-512
(``runtime.ONEDNN_ISAS``).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT
from gapstudy.frameworks.runtime import ONEDNN_ISAS as ISAS, cpu_flags

CHILD = """
import json, sys
import numpy as np
from gapstudy.frameworks.runtime import limit_threads
limit_threads(1)
from gapstudy.studies.seed import run
from gapstudy.studies.seed.data import make_dataset, Dataset
from gapstudy.variants import resolve
full = make_dataset()
# 650 rows: 20 full batches and a short last one, every op of an epoch at a fraction of its cost.
ds = Dataset(X_train=full.X_train[:650], X_val=full.X_val, y_train=full.y_train[:650], y_val=full.y_val)
framework = sys.argv[1]
trainer = run._trainer(framework)
run.configure_threads(framework, 1)
run.configure_determinism(framework)
hp = dict(epochs=2, batch_size=32, hidden_units=100, learning_rate=1e-3, beta_1=0.9, beta_2=0.9999, epsilon=1e-7)
def same(a, b):
    return (a["predictions"].tobytes() == b["predictions"].tobytes()
            and all(x.tobytes() == y.tobytes() for x, y in zip(a["weights"], b["weights"]))
            and a["epochs"] == b["epochs"])
out = {}
for name, switches in json.loads(sys.argv[2]).items():
    resolved = resolve(switches, framework, hp)
    stacked = trainer.train_seeds(ds, [2, 5], hp, resolved)
    out[name] = {"stacked": stacked[0]["settings"].get("stacked_seeds"),
                 "same": [same(r, trainer.train(ds, seed, hp, resolved)) for seed, r in zip([2, 5], stacked)],
                 "onednn": stacked[0]["settings"].get("onednn")}
print(json.dumps(out))
"""

SWITCHES = {
    # tanh: in fit's graph oneDNN fuses it into the hidden layer's product, with a tanh of its own.
    # The Keras-side switches (PyTorch's Adam rule, the hand-written loss) ride on the second set: every value
    # of each is then held under every instruction set, at no extra run.
    "keras": {"posted": {}, "matched_tanh_keras_side": {"target_shape": "matched", "activation": "tanh",
                                                         "adam_rule": "torch", "loss": "handwritten"},
              "float64": {"dtype": "float64"}},
    "keras2": {"posted": {}, "matched_keras_side": {"target_shape": "matched", "adam_rule": "torch",
                                                    "loss": "handwritten"}},
}

CAPS = [pytest.param(isa, id=isa) for isa in ISAS] + [pytest.param("default", id="default"),
                                                     pytest.param("off", id="onednn-off")]


@pytest.mark.parametrize("framework", sorted(SWITCHES))
@pytest.mark.parametrize("cap", CAPS)
def test_each_stacked_seed_is_its_own_fit_under_every_instruction_set(cap, framework):
    if cap in ISAS and not ISAS[cap] <= set(cpu_flags()):
        pytest.skip(f"this CPU lacks {cap} ({', '.join(sorted(ISAS[cap] - set(cpu_flags())))}): its kernels "
                    "cannot run here; a CPU with them runs this test")
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "ONEDNN_MAX_CPU_ISA",
                                                            "TF_ENABLE_ONEDNN_OPTS")}
    env["PYTHONPATH"] = str(ROOT / "src")
    if cap == "off":
        env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    elif cap != "default":
        env["ONEDNN_MAX_CPU_ISA"] = cap
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), framework,
                           json.dumps(SWITCHES[framework])], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, found in result.items():
        assert found["stacked"] == 2, (name, found)
        assert found["same"] == [True, True], (cap, framework, name, found)
        # Each run records the oneDNN setting it ran under.
        assert found["onednn"] == {"off": "off", "default": "on"}.get(cap, f"on, at most {cap}"), found
