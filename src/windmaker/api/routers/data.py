"""Data in: file uploads (validated ingestion with a quarantine report) and refresh jobs.

Thin adapters over :mod:`windmaker.services.ingest` and :mod:`windmaker.services.run`. Both
answer 202 with a job (see :mod:`windmaker.api.routers.jobs`): the work runs off the request
path, on the server's bounded pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile as StarletteUpload

from windmaker.api.deps import ReadModelDep, StaffUser, StateDep
from windmaker.api.errors import ERROR_RESPONSES, ApiError, responses
from windmaker.api.schemas import JobPublic
from windmaker.services import ingest as ingest_service
from windmaker.services import models as models_service
from windmaker.services.run import JOB_KIND, start_run

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


#: The request body of an upload, documented by hand: the route reads the form itself, after
#: the caller is known (a ``File`` parameter would be parsed before the dependencies run).
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV (UTF-8/GBK), XLSX, Parquet, JSON lines, "
                            "open-platform JSON, or one of them in a .gz or .zip",
                        },
                        "table": {
                            "type": "string",
                            "description": "Contract table; detected from the headers when absent",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/ingest",
    response_model=JobPublic,
    status_code=202,
    summary="Upload one file; its ingestion (all-or-nothing) runs as a job",
    responses=responses(400, 403, 413, 415),
    openapi_extra=UPLOAD_BODY,
)
async def ingest_upload(user: StaffUser, state: StateDep, request: Request) -> JobPublic:
    """Stream the file to the workspace and queue its ingestion; poll ``/jobs/{id}`` for the
    result (accepted and quarantined rows). The caller is known before the body is read, and
    the body is cut off at the upload limit as it streams."""
    form = await request.form(max_files=1, max_fields=8)
    try:
        file = form.get("file")
        table = form.get("table")
        if not isinstance(file, StarletteUpload):
            raise ApiError(
                422, "validation", detail=[{"loc": ["file"], "msg": "a file is required"}]
            )
        job = await ingest_service.queue_upload(
            state.jobs,
            state.settings,
            user,
            file.filename or "upload",
            chunks_of(file),  # type: ignore[arg-type]
            table=str(table) if table else None,
            limit=UPLOAD_LIMIT_BYTES,
            after=state.readmodel.reload,
        )
    finally:
        await form.close()
    return JobPublic.model_validate(job, from_attributes=True)


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


@router.post(
    "/models/fit",
    response_model=JobPublic,
    status_code=202,
    summary="Fit the lifetime-value and paid-traffic models as a job, then diagnose again",
    responses=responses(403),
)
def start_model_fit(user: StaffUser, state: StateDep, rm: ReadModelDep) -> JobPublic:
    """The fits run on their own pool (``fit_concurrency``); a fit already queued or running
    is returned instead of a second. Poll ``/jobs/{id}``; the pages read the fitted models once
    it has succeeded."""
    job = models_service.start_fit(
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
    job = state.jobs.get_for(job_id, user)
    if job is None or job.kind != JOB_KIND:
        raise ApiError(404, "not_found")
    return JobPublic.model_validate(job, from_attributes=True)
