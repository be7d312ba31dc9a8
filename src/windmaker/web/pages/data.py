"""The data page: uploads and refreshes as background jobs, and their progress."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.datastructures import UploadFile as FormFile

from windmaker import contract
from windmaker.api.deps import (
    AppState,
    StateDep,
)
from windmaker.i18n import name, t
from windmaker.numbers import day
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal
from windmaker.services.ingest import queue_upload
from windmaker.services.jobs import Job
from windmaker.services.run import start_run
from windmaker.views.ecosystem import refresh_changes
from windmaker.web import security
from windmaker.web.pages.common import (
    PageNotFound,
    WebUser,
    page_lang,
    render,
)

router = APIRouter()

#: Quarantined rows the page lists; the whole quarantine file is a download.
QUARANTINE_ROWS = 50

#: The loader's reasons (``column x: 'v' is not a number``) and the catalogue key of each.
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"^missing \(required\)$", "data.reason.missing"),
        (r"^(?P<value>'.*') is not a whole number of fen$", "data.reason.not_fen"),
        (r"^(?P<value>'.*') is not a whole number$", "data.reason.not_int"),
        (r"^(?P<value>'.*') is not a number$", "data.reason.not_number"),
        (r"^(?P<value>'.*') is not an amount of money$", "data.reason.not_money"),
        (r"^(?P<value>'.*') is not a timestamp$", "data.reason.not_timestamp"),
        (r"^(?P<value>'.*') is not a date$", "data.reason.not_date"),
        (r"^(?P<value>'.*') is not true/false$", "data.reason.not_bool"),
        (r"^(?P<value>'.*') is not one of (?P<allowed>.+)$", "data.reason.not_allowed"),
        (r"^(?P<value>'.*') has more than 2 decimals.*$", "data.reason.fraction"),
        (r"^(?P<value>\S+) is below the minimum (?P<limit>\S+)$", "data.reason.below"),
        (r"^(?P<value>\S+) is above the maximum (?P<limit>\S+)$", "data.reason.above"),
        (r"^(?P<value>'.*') is not a known (?P<ref>\w+)\.\w+$", "data.reason.unknown_key"),
    )
)


def reason_parts(reason: str, lang: str) -> list[dict[str, str]]:
    """A quarantined row's reason as ``{column, text}`` parts in ``lang``: the loader writes
    ``column x: …; check y: …`` in English, each part is matched to a catalogue sentence (a part
    no pattern matches is shown as the loader wrote it)."""
    parts: list[dict[str, str]] = []
    for part in (p.strip() for p in reason.split("; ") if p.strip()):
        column, text = "", part
        found = re.match(r"^column (\w+): (.*)$", part, re.S)
        if found:
            column, text = found.group(1), found.group(2)
        for pattern, key in _REASONS:
            hit = pattern.match(text)
            if hit:
                values = hit.groupdict()
                if "ref" in values:
                    values["ref"] = name("table", values["ref"], lang)
                text = t(key, lang, **values)
                break
        parts.append({"column": column, "text": text})
    return parts


def _ran_at(job: Job, tz: str) -> datetime | None:
    """When a job finished, in the workspace's time zone."""
    if job.finished_at is None:
        return None
    try:
        return job.finished_at.astimezone(ZoneInfo(tz))
    except (KeyError, ValueError):
        return job.finished_at


def _job_context(
    request: Request, user: Principal, state: AppState, job: Job | None
) -> dict[str, Any]:
    """What the job partial shows beyond the job: its quarantined rows in words, and for a
    finished refresh when it ran and what the diagnosis changed in the user's scope."""
    lang = page_lang(request)
    out: dict[str, Any] = {"job": job, "quarantine_rows": [], "ran_at": None, "changes": None}
    if job is None or job.status != "succeeded" or not job.result:
        return out
    if job.kind == "ingest":
        out["quarantine_rows"] = [
            {"line": q.get("line"), "parts": reason_parts(str(q.get("reason") or ""), lang)}
            for q in (job.result.get("quarantine") or [])[:QUARANTINE_ROWS]
        ]
    else:
        ran = _ran_at(job, state.settings.timezone)
        out["ran_at"] = f"{day(ran, lang)} {ran:%H:%M}" if ran else None
        out["changes"] = refresh_changes(state.readmodel, user.scope_set)
    return out


def _last_refresh(state: AppState, user: Principal) -> Job | None:
    return next(
        (j for j in state.jobs.visible(user, 50) if j.kind != "ingest" and j.status == "succeeded"),
        None,
    )


def _data_page(
    request: Request,
    user: Principal,
    state: AppState,
    *,
    status_code: int = 200,
    error: str | None = None,
    job: Any = None,
) -> HTMLResponse:
    """The data page: the upload and refresh forms, the job just started, the last refresh
    (when it ran, what changed) and the caller's jobs."""
    last = _last_refresh(state, user)
    last_context = _job_context(request, user, state, last)
    return render(
        request,
        "data.html",
        user,
        nav="data",
        status_code=status_code,
        error=error,
        jobs=state.jobs.visible(user, 10),
        tables=contract.TABLES,
        last_refresh=last,
        last_ran_at=last_context["ran_at"],
        last_changes=last_context["changes"],
        **_job_context(request, user, state, job),
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
    return render(request, "_job.html", user, **_job_context(request, user, state, job))


@router.get("/data/jobs/{job_id}", response_class=HTMLResponse)
def data_job(job_id: str, request: Request, user: WebUser, state: StateDep) -> HTMLResponse:
    """One job's progress and, once done, its result (polled by the page every second)."""
    if user.role not in ("admin", "operator"):
        raise PageNotFound
    job = state.jobs.get_for(job_id, user)
    if job is None:
        raise PageNotFound
    return render(request, "_job.html", user, **_job_context(request, user, state, job))


@router.get("/data/jobs/{job_id}/quarantine.csv")
def data_quarantine(job_id: str, user: WebUser, state: StateDep) -> FileResponse:
    """The whole quarantine file of an upload the user may see (every rejected row, with its
    file, line, reason and original values)."""
    if user.role not in ("admin", "operator"):
        raise PageNotFound
    job = state.jobs.get_for(job_id, user)
    stored = (job.result or {}).get("quarantine_file") if job is not None else None
    if job is None or job.kind != "ingest" or not stored:
        raise PageNotFound
    folder = state.settings.quarantine_path.resolve()
    path = (folder / Path(str(stored)).name).resolve()
    if path.parent != folder or not path.is_file():
        raise PageNotFound
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=path.name)
