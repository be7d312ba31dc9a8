"""Data in: file uploads (validated ingestion with a quarantine report) and refresh jobs."""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field

from windmaker import contract
from windmaker.api.deps import ReadModelDep, StaffUser, StateDep
from windmaker.api.errors import ERROR_RESPONSES, ApiError, responses
from windmaker.api.schemas import JobPublic

router = APIRouter(tags=["data"], responses=ERROR_RESPONSES)

#: Largest accepted upload; larger files belong on the command line (`windmaker ingest`).
UPLOAD_LIMIT_BYTES = 200 * 1024 * 1024
SUFFIXES = (".csv", ".txt", ".xlsx", ".parquet", ".jsonl", ".ndjson", ".json")


class QuarantinedRow(BaseModel):
    line: int | None = Field(None, description="Line of the file (the header is line 1)")
    reason: str
    values: dict[str, Any] = {}


class IngestResult(BaseModel):
    file: str
    table: str | None
    accepted: int
    quarantined: int
    quarantine_file: str | None = None
    quarantine: list[QuarantinedRow] = []


async def save_upload(upload: UploadFile, folder: Path, limit: int | None = None) -> Path:
    """Stream an upload to ``folder`` under its own name, refusing it past ``limit`` bytes."""
    limit = UPLOAD_LIMIT_BYTES if limit is None else limit
    name = Path(upload.filename or "upload").name
    if not name.lower().endswith(SUFFIXES):
        raise ApiError(
            415, "unsupported_file", reason=f"{name}: expected one of {', '.join(SUFFIXES)}"
        )
    target = folder / name
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "payload_too_large", limit=f"{limit // (1024 * 1024)} MiB")
            out.write(chunk)
    return target


@router.post(
    "/ingest",
    response_model=IngestResult,
    summary="Upload one file into the warehouse (all-or-nothing)",
    responses=responses(400, 403, 413, 415),
)
async def ingest_upload(
    user: StaffUser,
    state: StateDep,
    file: Annotated[
        UploadFile,
        File(description="CSV (UTF-8/GBK), XLSX, Parquet, JSON lines or open-platform JSON"),
    ],
    table: Annotated[
        str | None, Form(description="Contract table; detected from the headers when absent")
    ] = None,
) -> IngestResult:
    from windmaker.ingest import IngestError, ingest_files

    if table is not None and table not in contract.TABLES_BY_NAME:
        raise ApiError(
            422, "validation", detail=[{"loc": ["table"], "msg": f"unknown table {table!r}"}]
        )
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=state.settings.workspace))
    try:
        path = await save_upload(file, folder)
        try:
            report = ingest_files(state.settings, [path], table=table, progress=False)
        except IngestError as exc:
            raise ApiError(415, "unsupported_file", reason=str(exc)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    done = report.files[0]
    return IngestResult(
        file=done.path.name,
        table=done.table,
        accepted=done.accepted,
        quarantined=done.rejected,
        quarantine_file=done.quarantine.name if done.quarantine else None,
        quarantine=read_quarantine(done.quarantine) if done.quarantine else [],
    )


def read_quarantine(path: Path, limit: int = 1000) -> list[QuarantinedRow]:
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
    return out


@router.post(
    "/refresh",
    response_model=JobPublic,
    status_code=202,
    summary="Start a refresh (metrics, diagnosis, models)",
    responses=responses(403),
)
def start_refresh(user: StaffUser, state: StateDep, rm: ReadModelDep) -> JobPublic:
    from windmaker.pipeline import run_pipeline

    def work(progress: Any) -> dict[str, Any]:
        result = run_pipeline(
            state.settings, progress=progress, warehouse_factory=state.warehouse_factory
        )
        rm.reload()
        return result

    job = state.jobs.start("refresh", work)
    return JobPublic.model_validate(job, from_attributes=True)


@router.get(
    "/refresh/{job_id}",
    response_model=JobPublic,
    summary="Progress and result of a refresh",
    responses=responses(403),
)
def refresh_status(job_id: str, user: StaffUser, state: StateDep) -> JobPublic:
    job = state.jobs.get(job_id)
    if job is None:
        raise ApiError(404, "not_found")
    return JobPublic.model_validate(job, from_attributes=True)
