"""Ingest users' files into the warehouse: one all-or-nothing batch, rejects quarantined.

The validation itself is :func:`windmaker.ingest.ingest_files`; this use case decides who may
write (staff, from the API and the dashboard; whoever holds the workspace, from the CLI), takes
uploads in chunks with a size limit and reads back the quarantined rows a user is shown.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from windmaker import contract
from windmaker.config import Settings
from windmaker.ingest import IngestError, IngestReport, ingest_files
from windmaker.ingest.coercion import MoneyUnit
from windmaker.services.errors import ServiceError, forbidden, invalid
from windmaker.services.identity import Principal, workspace_admin

#: Largest accepted upload; larger files belong on the command line (`windmaker ingest`).
UPLOAD_LIMIT_BYTES = 200 * 1024 * 1024
SUFFIXES = (".csv", ".txt", ".xlsx", ".parquet", ".jsonl", ".ndjson", ".json")
#: The roles that may write into the warehouse.
WRITER_ROLES = ("admin", "operator")


@dataclass(frozen=True)
class QuarantinedRow:
    """One rejected row: its line in the file (the header is line 1), reason and values."""

    line: int | None
    reason: str
    values: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class UploadResult:
    """One uploaded file: where it landed and the rows that went to quarantine."""

    file: str
    table: str | None
    accepted: int
    quarantined: int
    quarantine_file: str | None = None
    quarantine: tuple[QuarantinedRow, ...] = ()


def ingest(
    settings: Settings,
    paths: Sequence[Path | str],
    *,
    actor: Principal | None = None,
    table: str | None = None,
    money_unit: MoneyUnit | None = None,
    progress: Any = None,
) -> IngestReport:
    """Validate and load ``paths`` into the workspace's warehouse as one batch.

    ``actor`` defaults to whoever runs a command on the workspace; ``progress`` is the caller's
    progress bar (a Rich ``Progress``), one task per file, or None. Raises :class:`IngestError`
    when the batch is refused as a whole (nothing written) and :class:`ServiceError` (403) for
    a role that may not write.
    """
    actor = actor or workspace_admin("ingest")
    if actor.role not in WRITER_ROLES:
        raise forbidden()
    return ingest_files(settings, paths, table=table, money_unit=money_unit, progress=progress)


async def ingest_upload(
    settings: Settings,
    actor: Principal,
    name: str,
    chunks: AsyncIterator[bytes],
    *,
    table: str | None = None,
    limit: int | None = None,
) -> UploadResult:
    """Store an upload (``chunks`` of the file ``name``) in a scratch folder of the workspace,
    ingest it and return what landed, with up to 1,000 quarantined rows.

    Refusals are :class:`ServiceError`: 403 a role that may not write, 413 past ``limit``
    bytes, 415 an unsupported or unreadable file, 422 an unknown table.
    """
    if actor.role not in WRITER_ROLES:
        raise forbidden()
    if table is not None and table not in contract.TABLES_BY_NAME:
        raise invalid("table", f"unknown table {table!r}")
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=settings.workspace))
    try:
        path = await save_upload(name, chunks, folder, limit)
        try:
            report = ingest(settings, [path], actor=actor, table=table)
        except IngestError as exc:
            raise ServiceError("unsupported_file", 415, reason=str(exc)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    done = report.files[0]
    return UploadResult(
        file=done.path.name,
        table=done.table,
        accepted=done.accepted,
        quarantined=done.rejected,
        quarantine_file=done.quarantine.name if done.quarantine else None,
        quarantine=read_quarantine(done.quarantine) if done.quarantine else (),
    )


async def save_upload(
    name: str, chunks: AsyncIterator[bytes], folder: Path, limit: int | None = None
) -> Path:
    """Stream an upload to ``folder`` under its own name, refusing it past ``limit`` bytes."""
    limit = UPLOAD_LIMIT_BYTES if limit is None else limit
    name = Path(name or "upload").name
    if not name.lower().endswith(SUFFIXES):
        raise ServiceError(
            "unsupported_file", 415, reason=f"{name}: expected one of {', '.join(SUFFIXES)}"
        )
    target = folder / name
    size = 0
    with target.open("wb") as out:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise ServiceError("payload_too_large", 413, limit=f"{limit // (1024 * 1024)} MiB")
            out.write(chunk)
    return target


def read_quarantine(path: Path, limit: int = 1000) -> tuple[QuarantinedRow, ...]:
    """The first ``limit`` rejected rows of a quarantine CSV (``_file, _line, _reason, ...``)."""
    out: list[QuarantinedRow] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for i, rec in enumerate(csv.DictReader(fh)):
            if i >= limit:
                break
            line = rec.pop("_line", None)
            rec.pop("_file", None)
            reason = rec.pop("_reason", "") or ""
            out.append(
                QuarantinedRow(
                    line=int(line) if line and line.isdigit() else None, reason=reason, values=rec
                )
            )
    return tuple(out)
