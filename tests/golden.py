"""A finished study's tables as digests, to hold them to the tables an earlier commit wrote.

Issue 23 moved the package into layers and put the catalogue on the port's
trace engine; every finished table had to stay what it was, except times
(and, for the catalogue, the trace's own columns, named in
``tests/test_tables_before_after.py``). The digests under ``tests/golden/``
were written from the tiny configs run by the commit before the move, and
the tests hold today's tiny study and tiny catalogue to them.

A digest records, for each CSV under ``results/``, its number of rows and, per
column, the sha256 of the column's values as the CSV holds them (so "the
same" means the same text, byte for byte). Times, the host and the code's own
hashes are left out: they change by design (``SKIP_TABLES``,
``SKIP_COLUMNS``).

A table's numbers also depend on the CPU: TensorFlow's oneDNN, PyTorch and
MKL choose their kernels by instruction set, and round differently. So a
digest file records the CPU it was written on (``machine()``), and holds
every column bit for bit only there. On any other CPU it holds the columns
without fractional numbers that were the same bits when the same commit ran
again with its kernels capped at AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``,
``ATEN_CPU_CAPABILITY=avx2``, ``MKL_ENABLE_INSTRUCTIONS=AVX2``): names,
seeds, counts, settings, verdicts.

Write a digest file (after running the old commit's config twice, once capped)::

    python tests/golden.py RESULTS RESULTS_AVX2 --source 8c964e4 --config config/tiny.yaml --out tests/golden/tiny.json
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import json
import os
import sys
from pathlib import Path

# Tables of times only.
SKIP_TABLES = {"tables/timings.csv", "tables/runtime.csv"}
# Columns of times, of the machine, and of the code itself (which the move changed by design).
SKIP_COLUMNS = {
    "wall_seconds", "cpu_seconds", "train_seconds", "started", "finished", "max_rss_mb",
    "host", "device_name", "cpu_flags", "version_platform",
    "code_sha256", "code_git_commit", "code_git_dirty", "code_package_sha256",
}
# The settings that decide which kernels run, besides the CPU.
KERNEL_ENV = ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")


def machine() -> dict:
    """The CPU and kernel settings a table's bits depend on: its name, its ISA flags, the kernel caps set."""
    from gapstudy.frameworks.runtime import cpu_flags, cpu_name

    return {"cpu_name": cpu_name(), "cpu_flags": cpu_flags(),
            "kernel_env": {key: os.environ.get(key) for key in KERNEL_ENV}}


def _sha(values: list[str]) -> str:
    return hashlib.sha256("\n".join(values).encode()).hexdigest()


def digest(results: Path) -> dict:
    """{relative path of each CSV: {"rows": n, "columns": {column: sha256 of its values}}}."""
    out = {}
    for path in sorted(Path(results).rglob("*.csv")):
        rel = path.relative_to(results).as_posix()
        if rel in SKIP_TABLES:
            continue
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        header, body = (rows[0], rows[1:]) if rows else ([], [])
        columns = {name: [row[i] if i < len(row) else "" for row in body]
                   for i, name in enumerate(header) if name not in SKIP_COLUMNS}
        out[rel] = {"rows": len(body), "columns": {name: _sha(values) for name, values in columns.items()},
                    "float_columns": sorted(name for name, values in columns.items() if any(map(_is_float, values)))}
    return out


def _is_float(text: str) -> bool:
    """A number that is not an integer (a float's round-off can reach it on another CPU)."""
    try:
        value = float(text)
    except ValueError:
        return False
    return not text.lstrip("-").isdigit() and value == value


def write(results: Path, results_capped: Path, source: str, config: str) -> dict:
    """A digest file: the tables' digests, this machine, and the columns the AVX2-capped run left unchanged."""
    here, capped = digest(results), digest(results_capped)
    cpu_independent = {
        table: sorted(c for c, sha in entry["columns"].items()
                      if c not in entry["float_columns"] and capped.get(table, {}).get("columns", {}).get(c) == sha)
        for table, entry in here.items()}
    return {"source": source, "config": config, "machine": machine(), "tables": here,
            "cpu_independent": cpu_independent}


def differences(golden: dict, results: Path, changed: dict[str, dict[str, str]] | None = None
                ) -> tuple[list[str], bool]:
    """What differs between ``results`` and a digest file; and whether the check was bit for bit.

    ``changed``: {table or glob pattern: {column: why}} of columns known to differ (``"*"`` for a
    whole table); those are left out. On the digest's own machine every other column is held; elsewhere only its
    ``cpu_independent`` columns."""
    changed = changed or {}
    exact = machine() == golden["machine"]
    now = digest(results)
    problems = []

    def known(table):
        return {column for pattern, columns in changed.items() if fnmatch.fnmatch(table, pattern) for column in columns}

    for table, entry in golden["tables"].items():
        skip = known(table)
        if "*" in skip:
            continue
        if table not in now:
            problems.append(f"{table}: missing")
            continue
        if now[table]["rows"] != entry["rows"]:
            problems.append(f"{table}: {now[table]['rows']} rows, {entry['rows']} before")
        held = entry["columns"] if exact else {c: entry["columns"][c] for c in golden["cpu_independent"][table]}
        for column, sha in held.items():
            if column in skip:
                continue
            if column not in now[table]["columns"]:
                problems.append(f"{table}: column {column} missing")
            elif now[table]["columns"][column] != sha:
                problems.append(f"{table}: column {column} differs")
    for table in sorted(set(now) - set(golden["tables"])):
        if "*" not in known(table):
            problems.append(f"{table}: new table")
    return problems, exact


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("results_capped", type=Path, help="the same commit and config, kernels capped at AVX2")
    parser.add_argument("--source", required=True, help="the commit that wrote both")
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(write(args.results, args.results_capped, args.source, args.config),
                                   indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
