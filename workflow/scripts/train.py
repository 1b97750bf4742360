"""Snakemake → gapstudy.run: one (framework, variant, seed, device) training job."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from gapstudy.runtime import limit_threads  # noqa: E402

# Before any framework is imported: thread pools are sized on import.
limit_threads(snakemake.threads)

from gapstudy.io import open_log  # noqa: E402
from gapstudy.run import save_record, train_run  # noqa: E402

wc = snakemake.wildcards
record = train_run(
    framework=wc.framework,
    variant=wc.variant,
    switches=snakemake.params.switches,
    seed=int(wc.seed),
    device=wc.device,
    hp=snakemake.params.hyperparameters,
    dataset_npz=Path(snakemake.input.npz),
    dataset_manifest=Path(snakemake.input.manifest),
    threads=snakemake.threads,
    log=open_log(snakemake.log[0]),
)
save_record(record, Path(snakemake.output.record))
