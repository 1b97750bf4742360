"""Provenance: the config, the code, the software, the devices and the training time of a study."""

from __future__ import annotations

import datetime as dt
import html
import json

import pandas as pd
import yaml

from gapstudy import sources
from gapstudy.report.pages import html_page
from gapstudy.registry import USER_REPORTED


def run_facts(runs: pd.DataFrame, timings: pd.DataFrame, environment: dict) -> dict:
    """Devices, runs and training time, as the front page and the provenance page state them."""
    started = pd.to_datetime(timings["started"]).min()
    finished = pd.to_datetime(timings["finished"]).max()
    keys = ["device", "device_name"] + [k for k in ("cpu_flags", "onednn") if k in runs]
    names = runs.fillna({k: "" for k in keys}).groupby(keys).size().reset_index(name="n_runs").to_dict("records")
    return {
        "devices_ran": sorted(runs["device"].unique().tolist()),
        "devices_available": environment["devices_available"],
        "device_names": [{k: (int(v) if k == "n_runs" else v) for k, v in d.items()} for d in names],
        "n_runs": int(len(runs)),
        "n_jobs": int(runs.groupby(["framework", "variant", "device"]).ngroups),
        "training_started": started.isoformat(),
        "training_finished": finished.isoformat(),
        "training_span_seconds": float((finished - started).total_seconds()),
        "training_run_seconds": float(timings["wall_seconds"].sum()),
        "training_cpu_seconds": float(timings["cpu_seconds"].sum()),
    }


def code_of_runs(runs: pd.DataFrame) -> list[str]:
    """The distinct code identities the runs' records name (more than one: a study of mixed code)."""
    columns = ["code_git_commit", "code_git_dirty", "code_package_sha256"]
    if not set(columns) <= set(runs.columns):
        return []
    found = runs[columns].drop_duplicates()
    return [sources.describe({"git_commit": None if pd.isna(c) else c, "git_dirty": d, "package_sha256": h})
            for c, d, h in found.itertuples(index=False)]


def provenance(runs: pd.DataFrame, timings: pd.DataFrame, config: dict, environment: dict) -> dict:
    """Who ran what where, with which code: devices, versions, code identity, training time."""
    prov = run_facts(runs, timings, environment)
    prov["distributions"] = environment["distributions"]
    prov["code"] = environment["code"]
    prov["code_of_runs"] = code_of_runs(runs)
    prov["user_reported"] = dict(USER_REPORTED)  # what the question reports, quoted by the front page
    prov["summary"] = {
        "python": environment["python"],
        "platform": environment["platform"],
        "workflow code (tables and report)": sources.describe(environment["code"]),
        "workflow code (training runs)": "; ".join(prov["code_of_runs"]) or "n/a",
        "devices in config": json.dumps(config["devices"]),
        "devices that ran": ", ".join(prov["devices_ran"]),
        "devices available here": ", ".join(environment["devices_available"]),
        "CPU here (tables and report)": environment.get("cpu", "n/a"),
        "its instruction sets": " ".join(environment.get("cpu_flags", [])) or "n/a",
        "TensorFlow's oneDNN here": environment.get("onednn", "n/a"),
        "training runs": prov["n_runs"],
        "training jobs": prov["n_jobs"],
        "first training run started (UTC)": prov["training_started"],
        "last training run finished (UTC)": prov["training_finished"],
        "training span (s)": f"{prov['training_span_seconds']:.1f}",
        "summed run wall time (s)": f"{prov['training_run_seconds']:.1f}",
        "summed run CPU time (s)": f"{prov['training_cpu_seconds']:.1f}",
        "provenance written (UTC)": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return prov


def provenance_html(provenance: dict, config: dict) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in provenance["summary"].items()
    )
    libs = "".join(
        f"<tr><td style='text-align:left'>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
        for k, v in provenance["distributions"].items()
    )
    devices = "".join(
        f"<tr><td>{html.escape(d['device'])}</td><td style='text-align:left'>{html.escape(d['device_name'])}</td>"
        f"<td style='text-align:left'>{html.escape(str(d.get('cpu_flags', '')))}</td>"
        f"<td>{html.escape(str(d.get('onednn', '')))}</td><td>{d['n_runs']}</td></tr>"
        for d in provenance["device_names"]
    )
    body = (
        "<h3>Run</h3><table>" + rows + "</table>"
        "<h3>Devices</h3><p>Where the training runs ran: the device, its name (for a CPU, its model), the CPU's "
        "instruction sets and TensorFlow's oneDNN setting, which decide TensorFlow's bits (README, \"What bit "
        "for bit means\").</p><table><tr><th>device</th><th>name</th><th>CPU instruction sets</th>"
        "<th>oneDNN</th><th>runs</th></tr>" + devices + "</table>"
        "<h3>Config</h3><pre>" + html.escape(yaml.safe_dump(config, sort_keys=False)) + "</pre>"
        "<h3>Installed Python packages</h3><table><tr><th>package</th><th>version</th></tr>" + libs + "</table>"
    )
    return html_page("Provenance", body)
