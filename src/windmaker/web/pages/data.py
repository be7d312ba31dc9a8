"""The data page: uploads and refreshes as background jobs, and their progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile as FormFile

from windmaker import contract
from windmaker.api.deps import (
    AppState,
    StateDep,
)
from windmaker.i18n import t
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal
from windmaker.services.ingest import queue_upload
from windmaker.services.run import start_run
from windmaker.web import security
from windmaker.web.pages.common import (
    PageNotFound,
    WebUser,
    page_lang,
    render,
)

router = APIRouter()


def _data_page(
    request: Request,
    user: Principal,
    state: AppState,
    *,
    status_code: int = 200,
    error: str | None = None,
    job: Any = None,
) -> HTMLResponse:
    """The data page: the upload and refresh forms, the job just started and the caller's jobs."""
    return render(
        request,
        "data.html",
        user,
        nav="data",
        status_code=status_code,
        error=error,
        job=job,
        jobs=state.jobs.visible(user, 10),
        tables=contract.TABLES,
    )


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request, user: WebUser, state: StateDep) -> HTMLResponse:
    if user.role not in ("admin", "operator"):
        raise PageNotFound
    return _data_page(request, user, state)


@router.post("/data/upload", response_class=HTMLResponse)
async def data_upload(request: Request, user: WebUser, state: StateDep) -> HTMLResponse:
    """Stream the file to the workspace and queue its ingestion; the page polls the job."""
    from collections.abc import AsyncIterator

    from starlette.exceptions import HTTPException

    if user.role not in ("admin", "operator"):
        raise PageNotFound
    lang = page_lang(request)
    try:
        form = await request.form(max_files=1, max_fields=8)
    except HTTPException as exc:  # the body went past the upload limit while it streamed
        if exc.status_code != 413:
            raise
        message = t("error.payload_too_large", lang, limit=str(exc.detail))
        return _data_page(request, user, state, status_code=413, error=message)
    try:
        upload = form.get("file")
        table = form.get("table") or None
        security.check(request, form)
        if not isinstance(upload, FormFile):
            message = t("error.validation", lang)
            return _data_page(request, user, state, status_code=422, error=message)

        async def chunks(file: FormFile = upload) -> AsyncIterator[bytes]:
            while chunk := await file.read(1 << 20):
                yield chunk

        job = await queue_upload(
            state.jobs,
            state.settings,
            user,
            upload.filename or "upload",
            chunks(),
            table=str(table) if table else None,
            after=state.readmodel.reload,
        )
    except ServiceError as exc:
        message = t(f"error.{exc.code}", lang, **{k: str(v) for k, v in exc.values.items()})
        return _data_page(request, user, state, status_code=exc.status, error=message)
    finally:
        await form.close()
    return _data_page(request, user, state, job=job)


@router.post("/data/refresh", response_class=HTMLResponse)
def data_refresh(request: Request, user: WebUser, state: StateDep) -> HTMLResponse:
    if user.role not in ("admin", "operator"):
        raise PageNotFound
    job = start_run(
        state.jobs,
        state.settings,
        user,
        warehouse_factory=state.warehouse_factory,
        after=state.readmodel.reload,
    )
    return render(request, "_job.html", user, job=job)


@router.get("/data/jobs/{job_id}", response_class=HTMLResponse)
def data_job(job_id: str, request: Request, user: WebUser, state: StateDep) -> HTMLResponse:
    """One job's progress and, once done, its result (polled by the page every second)."""
    if user.role not in ("admin", "operator"):
        raise PageNotFound
    job = state.jobs.get_for(job_id, user)
    if job is None:
        raise PageNotFound
    return render(request, "_job.html", user, job=job)
