"""Every path the catalogue writes, defined once (the rules, scripts and tests read them here).

The catalogue writes under ``results/catalogue/``, beside the seed study's
``results/``, so that neither run touches the other's files.
"""

from __future__ import annotations

ROOT = "results/catalogue"
DATASET = ROOT + "/data/{dataset}.npz"
# One training job per case and side (``run.SIDES``: the Keras reference, or every PyTorch arm) writes the
# rows of all its arms here.
RUNS = ROOT + "/runs/{case}/{side}.csv"
# One lock-step job per case writes the traces of all its traced arms (``cases.traced_arms``) here.
TRACES = ROOT + "/traces/{case}"
TRACE_STEPS = TRACES + "/{arm}.csv"
TRACE_RESULT = TRACES + "/{arm}.json"
ENVIRONMENT = ROOT + "/environment.json"
FRONT_PAGE = ROOT + "/report/front.rst"
REPORT = ROOT + "/report.html"
LOGS = "logs/catalogue"
BENCHMARKS = ROOT + "/benchmarks"


def table(name: str) -> str:
    return f"{ROOT}/tables/{name}.csv"


def figure(name: str) -> str:
    return f"{ROOT}/figures/{name}.png"


def page(name: str) -> str:
    return f"{ROOT}/report/{name}.html"


def log(job: str) -> str:
    return f"{LOGS}/{job}.log"


def benchmark(job: str) -> str:
    return f"{BENCHMARKS}/{job}.tsv"
