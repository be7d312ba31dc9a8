"""Data in: file uploads (validated ingestion with a quarantine report) and refresh jobs.

Thin adapters over :mod:`windmaker.services.ingest` and :mod:`windmaker.services.run`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field

from windmaker.api.deps import ReadModelDep, StaffUser, StateDep
from windmaker.api.errors import ERROR_RESPONSES, ApiError, responses
from windmaker.api.schemas import JobPublic
from windmaker.services import ingest as ingest_service
from windmaker.services.run import start_run

router = APIRouter(tags=["data"], responses=ERROR_RESPONSES)

#: Largest accepted upload (the app refuses a larger declared body before reading it).
UPLOAD_LIMIT_BYTES = ingest_service.UPLOAD_LIMIT_BYTES


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


async def chunks_of(upload: UploadFile, size: int = 1 << 20) -> AsyncIterator[bytes]:
    """The upload's bytes, ``size`` at a time."""
    while chunk := await upload.read(size):
        yield chunk


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
    done = await ingest_service.ingest_upload(
        state.settings,
        user,
        file.filename or "upload",
        chunks_of(file),
        table=table,
        limit=UPLOAD_LIMIT_BYTES,
    )
    return IngestResult.model_validate(done, from_attributes=True)


@router.post(
    "/refresh",
    response_model=JobPublic,
    status_code=202,
    summary="Start a refresh (metrics, diagnosis, models)",
    responses=responses(403),
)
def start_refresh(user: StaffUser, state: StateDep, rm: ReadModelDep) -> JobPublic:
    job = start_run(
        state.jobs,
        state.settings,
        user,
        warehouse_factory=state.warehouse_factory,
        after=rm.reload,
    )
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
