"""Pages of the dashboard. Each handler builds a context and renders one template.

Access is the API's: the same ``Principal`` and scope rules; a brand outside the caller's scope
is a not-found page, exactly like a brand that does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile as FormFile

from windmaker import contract
from windmaker.api.deps import (
    COOKIE,
    AppState,
    SessionDep,
    StateDep,
    authenticate_token,
    client_address,
    token_of,
)
from windmaker.codes import ProviderKind
from windmaker.ecosystem.admission import ProviderApplication
from windmaker.i18n import LANGS, explain_bottleneck, name, negotiate, reason_text, signals_text, t
from windmaker.reports import service as reports
from windmaker.services import actions, providers, users
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal
from windmaker.services.ingest import queue_upload
from windmaker.services.run import start_run
from windmaker.views import charts, exports
from windmaker.views.brand import brand_context
from windmaker.views.ecosystem import provider_view, tier_board
from windmaker.web import security

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["explain_bottleneck"] = explain_bottleneck
templates.env.globals["signals_text"] = signals_text
templates.env.globals["reason_text"] = reason_text
templates.env.globals["name"] = name
LANG_COOKIE = "wm_lang"

# Every unsafe request of the dashboard passes the CSRF and same-origin check first.
router = APIRouter(include_in_schema=False, dependencies=[Depends(security.guard)])


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to the login page."""


class PageNotFound(Exception):
    """Raised for absent and out-of-scope objects; rendered as the not-found page."""


def page_lang(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGS:
        return chosen
    return negotiate(request.headers.get("accept-language"))


async def web_user(request: Request, state: StateDep) -> Principal:
    found = await authenticate_token(state, token_of(request))
    if isinstance(found, str):
        raise LoginRequired
    return found


WebUser = Annotated[Principal, Depends(web_user)]


def render(
    request: Request, template: str, user: Principal | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    lang = page_lang(request)

    def tr(key: str, **values: object) -> str:
        return t(key, lang, **values)

    def static(path: str) -> str:
        return f"/static/{path}"

    csrf, fresh = security.page_token(request, login=template == "login.html")
    response = templates.TemplateResponse(
        request,
        template,
        {"t": tr, "lang": lang, "user": user, "static": static, "contract": contract}
        | {"csrf_token": csrf, **context},
        status_code=status_code,
    )
    if fresh:
        security.set_presession_cookie(response, request, fresh)
    return response


def not_found_page(request: Request, user: Principal | None) -> HTMLResponse:
    return render(request, "not_found.html", user, status_code=404)


def error_page(request: Request, user: Principal, exc: Exception) -> HTMLResponse:
    """A form's refusal as a page: the API error's own text, or the invalid fields (422).

    An API 404 stays a not-found page, so a form never tells more than the API would.
    """

    lang = page_lang(request)
    if isinstance(exc, ServiceError):
        if exc.status == 404:
            raise PageNotFound
        values = {k: str(v) for k, v in exc.values.items()}
        title = t(f"error.{exc.code}", lang, **values)
        return render(
            request, "message.html", user, status_code=exc.status, title=title, message=""
        )
    return render(
        request,
        "message.html",
        user,
        status_code=422,
        title=t("error.validation", lang),
        message=str(exc),
    )


# -- session -----------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html", None, error=None)


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    state: StateDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    try:
        token = users.login(
            session,
            username=username,
            password=password,
            ttl=timedelta(minutes=state.settings.token_ttl_minutes),
            throttle=state.throttle,
            address=client_address(request),
        ).token
    except ServiceError as exc:
        page = render(
            request,
            "login.html",
            None,
            status_code=exc.status,
            error=t(f"error.{exc.code}", page_lang(request), **exc.values),
        )
        if exc.status == 429:
            page.headers["Retry-After"] = str(exc.values["retry_after"])
        return page
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=state.settings.token_ttl_minutes * 60,
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, state: StateDep) -> RedirectResponse:
    token = token_of(request)
    if token:
        users.logout(session, token=token)
        state.principals.forget(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/") -> RedirectResponse:
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if code in LANGS:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax")
    return response


@router.get("/")
def home(user: WebUser) -> RedirectResponse:
    if user.role == "brand" and user.brand_id:
        return RedirectResponse(f"/brands/{user.brand_id}", status_code=303)
    return RedirectResponse("/workbench", status_code=303)


# -- operator workbench ------------------------------------------------------------------------
def _workbench_rows(
    state: AppState, user: Principal, request: Request
) -> tuple[list[dict[str, Any]], int]:
    q = request.query_params
    return state.readmodel.list_brands(
        user.scope_set,
        category=q.get("category") or None,
        stage=q.get("stage") or None,
        attention=q.get("attention") or None,
        q=q.get("q") or None,
        sort="priority",
        offset=0,
        limit=int(q.get("limit", "500")) if q.get("limit", "500").isdigit() else 500,
    )


@router.get("/workbench", response_class=HTMLResponse)
def workbench(request: Request, user: WebUser, state: StateDep) -> HTMLResponse:
    rows, total = _workbench_rows(state, user, request)
    return render(
        request,
        "workbench.html",
        user,
        nav="workbench",
        rows=rows,
        total=total,
        categories=state.readmodel.categories(),
        stages=contract.STAGES,
        attentions=("stalled", "falling", "ready", "trust_alert", "ok"),
        query=dict(request.query_params),
        period=state.readmodel.snap.latest_period,
    )


EXPORT_COLUMNS = (
    "brand_id",
    "name",
    "category",
    "stage",
    "attention",
    "bottleneck",
    "gmv_at_stake",
    "net_gmv_t90d",
    "trust_alert",
)


@router.get("/workbench/export.{fmt}")
def workbench_export(fmt: str, request: Request, user: WebUser, state: StateDep) -> Response:
    rows, _ = _workbench_rows(state, user, request)
    # Cells go through views.exports.safe_cell: a brand name cannot run as a formula.
    if fmt == "csv":
        return Response(
            exports.csv_text(EXPORT_COLUMNS, rows),
            media_type=exports.CSV_MEDIA,
            headers={"Content-Disposition": 'attachment; filename="portfolio.csv"'},
        )
    if fmt == "xlsx":
        return Response(
            exports.xlsx_bytes(EXPORT_COLUMNS, rows, "portfolio"),
            media_type=exports.XLSX_MEDIA,
            headers={"Content-Disposition": 'attachment; filename="portfolio.xlsx"'},
        )
    raise PageNotFound


# -- brand page --------------------------------------------------------------------------------
@router.get("/brands/{brand_id}", response_class=HTMLResponse)
def brand_page(
    brand_id: str, request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> HTMLResponse:
    if not user.sees_brand(brand_id) or state.readmodel.brand(brand_id) is None:
        raise PageNotFound
    ctx = brand_context(state.readmodel, brand_id, page_lang(request), viewer=user)
    items = {a.action_id: a for a in actions.brand_items(session, user, brand_id)}
    return render(request, "brand.html", user, nav="brand", items=items, json=json, **ctx)


# -- ecosystem ---------------------------------------------------------------------------------
@router.get("/ecosystem", response_class=HTMLResponse)
def ecosystem(
    request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> HTMLResponse:
    if user.role not in ("admin", "operator"):
        raise PageNotFound
    lang = page_lang(request)
    rm = state.readmodel
    dist = rm.stage_distribution(user.scope_set)
    flow_rows = rm.stage_flows(user.scope_set)
    board = tier_board(session, Configs.of(state.settings), user)
    tiers = [
        {"tier": x.name(lang), "count": x.at_or_above, "target": x.target} for x in board.tiers
    ]
    return render(
        request,
        "ecosystem.html",
        user,
        nav="ecosystem",
        dist_chart=charts.stage_distribution(dist, lang) if dist else None,
        flow_chart=charts.flows(flow_rows, lang) if flow_rows else None,
        tiers=tiers,
        tier_chart=charts.tier_progress(tiers, lang) if tiers else None,
        closest=board.closest,
    )


# -- providers ---------------------------------------------------------------------------------
@router.get("/providers", response_class=HTMLResponse)
def providers_page(request: Request, user: WebUser, session: SessionDep) -> HTMLResponse:
    if user.role == "brand":
        raise PageNotFound
    registry = providers.providers_in_scope(session, user)
    queue = [(r.application, r.proposal) for r in providers.applications(session, user)]
    return render(
        request,
        "providers.html",
        user,
        nav="providers",
        providers=registry,
        queue=queue,
        kinds=_kinds(),
    )


def _kinds() -> tuple[str, ...]:
    return tuple(ProviderKind)


@router.get("/providers/{provider_id}", response_class=HTMLResponse)
def provider_page(
    provider_id: str, request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> HTMLResponse:
    try:
        view = provider_view(session, Configs.of(state.settings), user, provider_id)
    except ServiceError:
        raise PageNotFound from None
    evals = view.evaluations
    history = {
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [str(e.period) for e in evals]},
        "yAxis": {"type": "value"},
        "series": [{"type": "line", "name": "score", "data": [round(e.score, 1) for e in evals]}],
    }
    return render(
        request,
        "provider.html",
        user,
        nav="providers",
        view=view,
        provider=view.provider,
        evals=evals,
        clients=view.clients,
        standing=view.standing,
        history_chart=history if evals else None,
    )


@router.post("/applications", response_model=None)
def submit_application_form(
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    provider_id: Annotated[str, Form()],
    name: Annotated[str, Form()],
    kind: Annotated[str, Form()],
    capabilities: Annotated[list[str], Form()],
    categories: Annotated[str, Form()],
    team_size: Annotated[int, Form()],
    gmv_served_12m: Annotated[str, Form()],
    capacity: Annotated[int, Form()],
) -> Response:
    from decimal import InvalidOperation

    try:
        body = ProviderApplication.from_dict(
            {
                "provider_id": provider_id,
                "name": name,
                "kind": kind,
                "capabilities": capabilities,
                "categories": categories.replace("，", ","),
                "team_size": team_size,
                "gmv_served_12m": gmv_served_12m,
                "capacity": capacity,
            }
        )
        created = providers.apply(session, Configs.of(state.settings), user, body)
    except (ValueError, InvalidOperation, ServiceError) as exc:
        return error_page(request, user, exc)
    return RedirectResponse(f"/applications/{created.application.id}", status_code=303)


@router.get("/applications/{application_id}", response_class=HTMLResponse)
def application_page(
    application_id: int, request: Request, user: WebUser, session: SessionDep
) -> HTMLResponse:

    try:
        found = providers.application(session, user, application_id)
    except ServiceError:
        raise PageNotFound from None
    return render(
        request,
        "application.html",
        user,
        nav="providers",
        app=found.application,
        proposal=found.proposal,
    )


@router.post("/applications/{application_id}/decide", response_model=None)
def decide_form(
    application_id: int,
    request: Request,
    user: WebUser,
    session: SessionDep,
    decision: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:

    if user.role != "admin":
        raise PageNotFound
    try:
        providers.decide(session, user, application_id, decision=decision, note=note)
    except ServiceError as exc:
        return error_page(request, user, exc)
    return RedirectResponse(f"/applications/{application_id}", status_code=303)


@router.post("/brands/{brand_id}/assign", response_model=None)
def assign_form(
    brand_id: str,
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    action_id: Annotated[str, Form()],
    owner: Annotated[str, Form()],
) -> Response:

    if not user.sees_brand(brand_id) or state.readmodel.brand(brand_id) is None:
        raise PageNotFound
    try:
        actions.assign(session, user, brand_id, action_id=action_id, owner=owner)
    except ServiceError as exc:
        return error_page(request, user, exc)
    return RedirectResponse(f"/brands/{brand_id}#plan", status_code=303)


# -- data --------------------------------------------------------------------------------------
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


# -- reports -----------------------------------------------------------------------------------
def _report_response(
    request: Request,
    user: Principal,
    state: AppState,
    fmt: str,
    make: Callable[..., reports.Report],
    *args: Any,
) -> Response:
    """Call the report service ``make(*args, lang, pdf, printer=…)`` and serve what it made: the
    HTML, or the PDF as a download under its safe file name. Not found is the not-found page;
    a busy printer a 503 with ``Retry-After``."""
    printer = reports.printer_for(state.settings)
    try:
        made = make(*args, page_lang(request), fmt == "pdf", printer=printer)
    except ServiceError as exc:
        response = error_page(request, user, exc)
        if "retry_after" in exc.values:
            response.headers["Retry-After"] = str(exc.values["retry_after"])
        return response
    if made.pdf is None:  # self-contained: its inline scripts are admitted by their hashes
        policy = security.policy_with_inline_scripts(made.html)
        return HTMLResponse(made.html, headers={"Content-Security-Policy": policy})
    disposition = f'attachment; filename="{made.filename}"'
    return Response(
        made.pdf, media_type=made.media_type, headers={"Content-Disposition": disposition}
    )


@router.get("/reports/brands/{brand_id}", response_model=None)
def brand_report_page(
    brand_id: str,
    request: Request,
    user: WebUser,
    state: StateDep,
    month: str | None = None,
    format: str = "html",
) -> Response:
    """The brand's monthly report (HTML, or PDF with ``format=pdf``), for users who see the brand."""
    return _report_response(
        request, user, state, format, reports.brand_report, state.readmodel, user, brand_id, month
    )


@router.get("/reports/providers/{provider_id}", response_model=None)
def provider_report_page(
    provider_id: str,
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    month: str | None = None,
    format: str = "html",
) -> Response:
    """The provider's monthly evaluation report (HTML, or PDF with ``format=pdf``), for users
    who see the provider."""
    return _report_response(
        request, user, state, format, reports.provider_report, session, user, provider_id, month
    )
