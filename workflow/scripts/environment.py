"""Snakemake → gapstudy.runtime: the software and devices of this machine."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from gapstudy import runtime  # noqa: E402
from gapstudy.io import atomic_write_json, open_log  # noqa: E402

log = open_log(snakemake.log[0])
versions = runtime.versions()
environment = {
    "python": versions["python"],
    "platform": versions["platform"],
    "devices_available": runtime.available_devices(),
    "distributions": runtime.all_distributions(),
}
atomic_write_json(Path(snakemake.output[0]), environment)
log(f"devices available: {environment['devices_available']}")
