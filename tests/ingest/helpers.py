"""Reading back what an ingestion wrote: warehouse rows and quarantine files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from windmaker.config import Settings
from windmaker.warehouse import connect


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the workspace's warehouse (a fresh connection: what was committed)."""
    with connect(settings) as wh:
        return [tuple(r) for r in wh.duckdb.execute(sql).fetchall()]


def quarantined(path: Path | None) -> list[dict[str, str]]:
    """The rows of a quarantine CSV."""
    assert path is not None, "expected a quarantine file"
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def reasons_by_line(path: Path | None) -> dict[int, str]:
    return {int(r["_line"]): r["_reason"] for r in quarantined(path)}
