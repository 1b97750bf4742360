"""Snakemake → gapstudy.studies.port.diagnose: the lock-step trace, the probes and the ranked findings."""

import json
from pathlib import Path

from gapstudy.frameworks.runtime import limit_threads

limit_threads(snakemake.threads)

from gapstudy.io import atomic_path, atomic_write_json, open_log  # noqa: E402
from gapstudy.studies.port import diagnose, sides  # noqa: E402

log = open_log(snakemake.log[0])
p = snakemake.params
config = {"port": p.port, "lockstep": p.lockstep}
steps, result, findings = diagnose.diagnose(config, sides.load_npz(snakemake.input.npz), log=log)
with atomic_path(Path(snakemake.output.steps)) as tmp:
    steps.to_csv(tmp, index=False)
atomic_write_json(Path(snakemake.output.result), result)
atomic_write_json(Path(snakemake.output.findings), findings)
log(f"first difference at step {result['first_step']}, {result['first_tensor']}; "
    f"{len(findings)} findings: {json.dumps([f['probe'] for f in findings])}")
