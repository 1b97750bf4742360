"""A run record on disk: one JSON file per training run (fields: README, "What each run writes").

``RECORD_FORMAT`` changes whenever a field does; a record of another format
is refused with the advice to rerun, never silently misread.
"""

from __future__ import annotations

import json
from pathlib import Path

from gapstudy.io import atomic_write_json

RECORD_FORMAT = 5
# The columns that name a run in every table.
ID = ["framework", "variant", "device", "seed"]


def save_record(record: dict, path: Path) -> None:
    atomic_write_json(path, record)


def load_record(path: Path) -> dict:
    """Read a run record, refusing one from another format or a truncated file."""
    try:
        record = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a complete run record ({error}); delete it and rerun") from error
    if record.get("format") != RECORD_FORMAT:
        raise ValueError(
            f"{path}: run record format {record.get('format')!r}, expected {RECORD_FORMAT}; "
            "delete it and rerun"
        )
    return record
