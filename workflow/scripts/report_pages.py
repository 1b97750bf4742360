"""Snakemake → gapstudy.report: the front-page answer, HTML tables and provenance."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

import pandas as pd  # noqa: E402

from gapstudy import report  # noqa: E402
from gapstudy.io import atomic_write_json, atomic_write_text, open_log  # noqa: E402

log = open_log(snakemake.log[0])
config = snakemake.config
inp, out = snakemake.input, snakemake.output
runs, timings, missing = pd.read_csv(inp.runs), pd.read_csv(inp.timings), pd.read_csv(inp.missing)
summary = pd.read_csv(inp.summary)
comparison = pd.read_csv(inp.comparison)
equivalence = pd.read_csv(inp.equivalence)
attribution = pd.read_csv(inp.attribution)
environment = json.loads(Path(inp.environment).read_text())
# A file, or nothing where the config has no lock-step pairs.
lockstep_paths = [inp.lockstep] if isinstance(inp.lockstep, str) else list(inp.lockstep)
lockstep = pd.read_csv(lockstep_paths[0]) if lockstep_paths else None
repeats, devices = pd.read_csv(inp.repeats), pd.read_csv(inp.devices)
prov = report.provenance(runs, timings, config, environment)
incomplete = report.incomplete_runs(runs, missing)
level = int(round(100 * config["statistics"]["confidence_level"]))

atomic_write_json(Path(out.provenance), prov)
front_page = [
    report.answer_rst(summary, comparison, config, prov, attribution),
    report.incomplete_rst(incomplete),
    report.what_to_do_rst(attribution, config),
    report.diagnosis_rst(attribution, config),
    report.equivalence_rst(equivalence, config),
    report.lockstep_rst(lockstep, config),
    report.determinism_rst(repeats, devices, prov["devices_ran"]),
    report.nonlinear_rst(summary, config),
]
atomic_write_text(Path(out.answer), "\n".join(front_page))
atomic_write_text(Path(out.provenance_html), report.provenance_html(prov, config))
pages = {
    "summary_html": (summary, "Summary over seeds",
                     f"Mean, median and bootstrap {level} % CI of the mean over seeds."),
    "comparison_html": (comparison, "Comparison with the reference",
                        "Ratio of mean validation MSEs with bootstrap CI, Welch's t on log MSE and "
                        "Mann-Whitney U with Holm-adjusted p-values, probability of improvement."),
    "attribution_html": (attribution, "Share of the gap per switch",
                         f"Share of the posted gap in mean log MSE per switch change, bootstrap {level} % CI."),
    "equivalence_html": (equivalence, "Equivalence with the reference",
                         "Two one-sided Welch tests on log MSE against the declared margin."),
    "determinism_html": (repeats, "Do runs repeat bit for bit?",
                         "Runs trained twice per framework, variant and device, and how many gave the same bits."),
    "devices_html": (devices, "The same run on CPU and on another device",
                     "Largest difference of validation predictions and the ratio of validation MSEs."),
    "runs_html": (runs, "All runs", "One row per training run (times: results/tables/timings.csv)."),
    "missing_html": (incomplete, "Runs that failed or diverged",
                     "Failed: no result (partial_results: true). Diverged: loss NaN or infinite at the epoch "
                     "given; left out of the statistics."),
}
for key, (table, title, caption) in pages.items():
    atomic_write_text(Path(out[key]), report.html_table(table, title, caption))
log("wrote the answer, tables and provenance")
