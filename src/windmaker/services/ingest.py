"""Ingest users' files into the warehouse: one all-or-nothing batch, rejects quarantined.

The validation itself is :func:`windmaker.ingest.ingest_files`; this use case decides who may
write (staff, from the API and the dashboard; whoever holds the workspace, from the CLI), takes
uploads in chunks with a size limit, queues their ingestion as a job off the request path
(:func:`queue_upload`) and reads back the quarantined rows a user is shown.
"""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from windmaker import contract
from windmaker.config import Settings
from windmaker.ingest import IngestError, IngestReport, ingest_files
from windmaker.ingest.coercion import MoneyUnit
from windmaker.ingest.loader import SCRATCH_PREFIX, remove_stale_scratch
from windmaker.ingest.sources import SourceError, UnpackLimits, check_zip
from windmaker.services import write_scope
from windmaker.services.errors import ServiceError, forbidden, invalid
from windmaker.services.identity import Principal, workspace_admin
from windmaker.services.jobs import Job, Jobs, Progress

#: Largest accepted upload; larger files belong on the command line (`windmaker ingest`).
UPLOAD_LIMIT_BYTES = 200 * 1024 * 1024
SUFFIXES = (
    ".csv",
    ".txt",
    ".xlsx",
    ".parquet",
    ".jsonl",
    ".ndjson",
    ".json",
    ".gz",
    ".zip",
)
#: The job kind of uploads in :class:`Jobs`.
JOB_KIND = "ingest"
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
    a role that may not write, or (403 ``outside_scope``) for a batch writing for a brand
    outside the caller's scope: then nothing of it lands (:mod:`.write_scope`).
    """
    actor = actor or workspace_admin("ingest")
    if actor.role not in WRITER_ROLES:
        raise forbidden()
    if actor.brand_scope is None:
        return ingest_files(settings, paths, table=table, money_unit=money_unit, progress=progress)
    return _ingest_in_scope(settings, paths, actor.brand_scope, table, money_unit, progress)


def _ingest_in_scope(
    settings: Settings,
    paths: Sequence[Path | str],
    scope: frozenset[str],
    table: str | None,
    money_unit: MoneyUnit | None,
    progress: Any,
) -> IngestReport:
    """:func:`ingest` for a caller limited to ``scope``: the same batch on a warehouse opened
    here, whose connection the scope check reads inside the batch's transaction."""
    from windmaker.workspace import open_warehouse

    try:
        wh = open_warehouse(settings)
    except Exception:
        raise IngestError(
            "the workspace's warehouse cannot be opened; nothing was written"
        ) from None
    try:
        wh.ensure_source_tables()
        return ingest_files(
            wh,
            paths,
            table=table,
            money_unit=money_unit or settings.money_unit,
            progress=progress,
            quarantine_dir=settings.quarantine_path,
            timezone=settings.timezone,
            on_event=write_scope.scope_guard(wh.duckdb, scope),
            unpack_limits=_unpack_limits(settings),
        )
    except IngestError as exc:
        if isinstance(exc.__cause__, write_scope.OutsideScope):
            raise write_scope.refusal(exc.__cause__) from None
        raise
    finally:
        wh.close()


class _JobBar:
    """Feeds a job's progress from the loader's per-file progress (a Rich-like bar)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def __enter__(self) -> _JobBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float = 100) -> int:
        self._progress(0.0, "loading")
        return 0

    def update(self, task: int, completed: float, description: str | None = None) -> None:
        self._progress(min(completed, 100.0) / 100.0, "loading")


def upload_result(report: IngestReport) -> UploadResult:
    """What the one file of an upload's batch did, with up to 1,000 quarantined rows."""
    done = report.files[0]
    return UploadResult(
        file=done.path.name,
        table=done.table,
        accepted=done.accepted,
        quarantined=done.rejected,
        quarantine_file=done.quarantine.name if done.quarantine else None,
        quarantine=read_quarantine(done.quarantine) if done.quarantine else (),
    )


def _check_writer(actor: Principal, table: str | None) -> None:
    if actor.role not in WRITER_ROLES:
        raise forbidden()
    if table is not None and table not in contract.TABLES_BY_NAME:
        raise invalid("table", f"unknown table {table!r}")


def _upload_folder(settings: Settings) -> Path:
    """A scratch folder for one upload, named like the loader's so that a folder left by a
    killed server is removed by the next import (``remove_stale_scratch``)."""
    return Path(
        tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-upload-", dir=settings.workspace)
    )


def clear_abandoned_uploads(settings: Settings) -> list[Path]:
    """Remove the scratch folders of uploads whose server was killed (a server calls this as it
    starts); a live upload's folder, another process's, is left alone."""
    return remove_stale_scratch(settings.workspace)


def _unpack_limits(settings: Settings) -> UnpackLimits:
    return UnpackLimits(
        max_bytes=settings.unpacked_limit_bytes, max_ratio=settings.unpacked_ratio_limit
    )


def _ingest_saved(
    settings: Settings,
    actor: Principal,
    path: Path,
    table: str | None,
    progress: Progress | None = None,
) -> UploadResult:
    """Ingest one saved upload (blocking); the scratch folder holding it is removed after."""
    try:
        report = ingest(
            settings,
            [path],
            actor=actor,
            table=table,
            progress=_JobBar(progress) if progress is not None else None,
        )
    except IngestError as exc:
        raise ServiceError("unsupported_file", 415, reason=str(exc)) from None
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return upload_result(report)


async def receive_upload(
    settings: Settings,
    actor: Principal,
    name: str,
    chunks: AsyncIterator[bytes],
    *,
    table: str | None = None,
    limit: int | None = None,
) -> Path:
    """Check the caller and store an upload in a scratch folder of the workspace.

    The file is written by a worker thread, chunk by chunk, so the server's event loop keeps
    answering; a workbook or zip archive that would expand past the workspace's caps is
    refused here (its directory says so at once). Refusals are :class:`ServiceError`: 403 a
    role that may not write, 413 past ``limit`` bytes, 415 an unsupported or oversized file,
    422 an unknown table. Nothing is left on disk after a refusal.
    """
    _check_writer(actor, table)
    folder = await asyncio.to_thread(_upload_folder, settings)
    try:
        path = await save_upload(name, chunks, folder, limit)
        if path.suffix.lower() in (".xlsx", ".xlsm", ".zip"):
            await asyncio.to_thread(check_zip, path, _unpack_limits(settings))
    except SourceError as exc:
        await asyncio.to_thread(shutil.rmtree, folder, True)
        raise ServiceError("unsupported_file", 415, reason=str(exc)) from None
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, folder, True)
        raise
    return path


async def queue_upload(
    jobs: Jobs,
    settings: Settings,
    actor: Principal,
    name: str,
    chunks: AsyncIterator[bytes],
    *,
    table: str | None = None,
    limit: int | None = None,
    after: Callable[[], None] | None = None,
) -> Job:
    """Store an upload and queue its ingestion as a job of ``actor`` (kind ``ingest``).

    Returns the job at once; its result is the :class:`UploadResult` as a dict, its error a
    refusal of the whole file (415, nothing written). ``after`` runs once the file has
    landed (the server reloads its read model). Refusals before the job starts are those of
    :func:`receive_upload`.
    """
    path = await receive_upload(settings, actor, name, chunks, table=table, limit=limit)

    def work(progress: Progress) -> dict[str, Any]:
        progress(0.0, "queued")
        result = _ingest_saved(settings, actor, path, table, progress)
        if after is not None:
            after()
        return asdict(result)

    return jobs.start(JOB_KIND, work, owner=actor, join_running=False)


async def ingest_upload(
    settings: Settings,
    actor: Principal,
    name: str,
    chunks: AsyncIterator[bytes],
    *,
    table: str | None = None,
    limit: int | None = None,
) -> UploadResult:
    """Store an upload, ingest it and return what landed, with up to 1,000 quarantined rows.

    The blocking ingestion runs in a worker thread; a server queues uploads as jobs instead
    (:func:`queue_upload`). Refusals are those of :func:`receive_upload`, and 415 for a file
    refused as a whole.
    """
    path = await receive_upload(settings, actor, name, chunks, table=table, limit=limit)
    return await asyncio.to_thread(_ingest_saved, settings, actor, path, table)


async def save_upload(
    name: str, chunks: AsyncIterator[bytes], folder: Path, limit: int | None = None
) -> Path:
    """Stream an upload to ``folder`` under its own name, refusing it past ``limit`` bytes.

    Each chunk is written by a worker thread: a slow disk never holds the event loop.
    """
    limit = UPLOAD_LIMIT_BYTES if limit is None else limit
    if any(ord(c) < 32 or ord(c) == 127 for c in name or ""):
        raise ServiceError(
            "unsupported_file", 415, reason="the file name holds a control character; rename it"
        )
    name = Path(name or "upload").name or "upload"
    if not name.lower().endswith(SUFFIXES):
        raise ServiceError(
            "unsupported_file", 415, reason=f"{name}: expected one of {', '.join(SUFFIXES)}"
        )
    target = folder / name
    size = 0
    out = await asyncio.to_thread(target.open, "wb")
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise ServiceError("payload_too_large", 413, limit=f"{limit // (1024 * 1024)} MiB")
            await asyncio.to_thread(out.write, chunk)
    finally:
        await asyncio.to_thread(out.close)
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
