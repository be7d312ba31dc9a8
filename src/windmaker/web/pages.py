"""Pages of the dashboard. Each handler builds a context and renders one template.

Access is the API's: the same ``Principal`` and scope rules; a brand outside the caller's scope
is a not-found page, exactly like a brand that does not exist.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Form, Request, UploadFile
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
    token_of,
)
from windmaker.api.security import Principal
from windmaker.i18n import LANGS, explain_bottleneck, negotiate, signals_text, t
from windmaker.store import authenticate
from windmaker.store.tokens import issue_token, revoke_token
from windmaker.web import charts

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["explain_bottleneck"] = explain_bottleneck
templates.env.globals["signals_text"] = signals_text
LANG_COOKIE = "wm_lang"

router = APIRouter(include_in_schema=False)


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

    return templates.TemplateResponse(
        request,
        template,
        {"t": tr, "lang": lang, "user": user, "static": static, "contract": contract, **context},
        status_code=status_code,
    )


def not_found_page(request: Request, user: Principal | None) -> HTMLResponse:
    return render(request, "not_found.html", user, status_code=404)


def error_page(request: Request, user: Principal, exc: Exception) -> HTMLResponse:
    """A form's refusal as a page: the API error's own text, or the invalid fields (422).

    An API 404 stays a not-found page, so a form never tells more than the API would.
    """
    from windmaker.api.errors import ApiError

    lang = page_lang(request)
    if isinstance(exc, ApiError):
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
    user = authenticate(session, username=username, password=password)
    if user is None:
        return render(
            request,
            "login.html",
            None,
            status_code=401,
            error=t("error.bad_credentials", page_lang(request)),
        )
    token, _ = issue_token(
        session, user_id=user.id, ttl=timedelta(minutes=state.settings.token_ttl_minutes)
    )
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
        revoke_token(session, token=token)
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
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(EXPORT_COLUMNS)
        for r in rows:
            writer.writerow([r.get(c, "") for c in EXPORT_COLUMNS])
        # A BOM so that Excel opens the Chinese names correctly.
        return Response(
            "\ufeff" + buf.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="portfolio.csv"'},
        )
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("portfolio")
        ws.append(list(EXPORT_COLUMNS))
        for r in rows:
            ws.append([r.get(c) for c in EXPORT_COLUMNS])
        out = io.BytesIO()
        wb.save(out)
        return Response(
            out.getvalue(),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": 'attachment; filename="portfolio.xlsx"'},
        )
    raise PageNotFound


# -- brand page --------------------------------------------------------------------------------
TREND_METRICS = ("net_gmv", "self_gmv", "distribution_gmv", "paid_gmv")
#: GMV = UV × watch time per UV × orders per watch hour × AOV (m_gmv_drivers' contributions).
DRIVERS = ("uv", "watch_time", "conversion", "aov")


def brand_context(state: AppState, brand_id: str, lang: str) -> dict[str, Any]:
    """Everything the brand page and the brand report show."""
    rm = state.readmodel
    score = rm.scorecard(brand_id)
    diag = rm.diagnosis(brand_id)
    history = rm.stage_history(brand_id)
    series = rm.metric_series(brand_id)
    stage = (diag["stage"] or {}).get("stage")
    drivers = [r for r in rm.table_rows("m_gmv_drivers", brand_id) if r.get("level") == "brand"]
    waterfall = None
    if drivers:
        latest = max(drivers, key=lambda r: str(r.get("period", "")))
        if latest.get("decomposable") and latest.get("prev_live_gmv") is not None:
            parts = [
                (t(f"driver.{d}", lang), float(latest[f"contrib_{d}"] or 0.0)) for d in DRIVERS
            ]
            days = latest.get("compared_days")
            waterfall = charts.waterfall(
                parts, float(latest["prev_live_gmv"]), lang, int(days) if days else None
            )
    trend_metrics = [m for m in TREND_METRICS if series and m in series[0]]
    return {
        "brand": score["brand"],
        "score": score,
        "diag": diag,
        "stage": stage,
        "history": history,
        "radar": charts.radar(rm.radar(brand_id), lang),
        "bottleneck_chart": charts.bottleneck_bars(diag["bottlenecks"], lang)
        if diag["bottlenecks"]
        else None,
        "trend": charts.trend(series, trend_metrics, lang) if series else None,
        "waterfall": waterfall,
        "drivers": drivers,
        "recommendations": sorted(
            (r for r in rm.table_rows("mdl_recommendations", brand_id) if not r.get("sku_id")),
            key=lambda r: r.get("rank") or 0,
        )[:10],
        "clv": rm.table_rows("mdl_clv_brand", brand_id),
        "traffic": rm.table_rows("mdl_traffic_curves", brand_id),
        "trust": rm.table_rows("mdl_trust_scores", brand_id),
        "period": rm.snap.latest_period,
    }


@router.get("/brands/{brand_id}", response_class=HTMLResponse)
def brand_page(
    brand_id: str, request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> HTMLResponse:
    if not user.sees_brand(brand_id) or state.readmodel.brand(brand_id) is None:
        raise PageNotFound
    from windmaker.store import list_action_items

    ctx = brand_context(state, brand_id, page_lang(request))
    items = {a.action_id: a for a in list_action_items(session, brand_id=brand_id)}
    return render(request, "brand.html", user, nav="brand", items=items, json=json, **ctx)


# -- ecosystem ---------------------------------------------------------------------------------
@router.get("/ecosystem", response_class=HTMLResponse)
def ecosystem(
    request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> HTMLResponse:
    if user.role not in ("admin", "operator"):
        raise PageNotFound
    from windmaker.api.ecosystem_view import tier_view

    lang = page_lang(request)
    rm = state.readmodel
    dist = rm.stage_distribution(user.scope_set)
    flow_rows = rm.stage_flows(user.scope_set)
    view = tier_view(state, session)
    tiers = [
        {
            "tier": x["name_zh"] if lang == "zh-CN" else x["name_en"],
            "count": x["at_or_above"],
            "target": x["target"],
        }
        for x in view["tiers"]
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
        closest=view["closest"],
    )


# -- providers ---------------------------------------------------------------------------------
@router.get("/providers", response_class=HTMLResponse)
def providers_page(request: Request, user: WebUser, session: SessionDep) -> HTMLResponse:
    if user.role == "brand":
        raise PageNotFound
    from windmaker.store import list_providers, review_queue

    providers = [p for p in list_providers(session) if user.sees_provider(p.provider_id)]
    queue = [
        (a, d)
        for a, d in review_queue(session)
        if user.role != "provider" or a.provider_id == user.provider_id
    ]
    return render(
        request,
        "providers.html",
        user,
        nav="providers",
        providers=providers,
        queue=queue,
        kinds=_kinds(),
    )


def _kinds() -> tuple[str, ...]:
    from windmaker.store.models import PROVIDER_KINDS

    return PROVIDER_KINDS


@router.get("/providers/{provider_id}", response_class=HTMLResponse)
def provider_page(
    provider_id: str, request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> HTMLResponse:
    from windmaker.api.ecosystem_view import tier_view
    from windmaker.store import list_assignments, list_evaluations
    from windmaker.store.models import Provider

    provider = session.get(Provider, provider_id)
    if provider is None or not user.sees_provider(provider_id):
        raise PageNotFound
    evals = list_evaluations(session, provider_id=provider_id)
    clients = list_assignments(session, provider_id=provider_id)
    standing = next(
        (s for s in tier_view(state, session)["standings"] if s["provider_id"] == provider_id), None
    )
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
        provider=provider,
        evals=evals,
        clients=clients,
        standing=standing,
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
    from pydantic import ValidationError

    from windmaker.api.errors import ApiError
    from windmaker.api.routers.providers import ApplicationCreate, apply

    try:
        body = ApplicationCreate.model_validate(
            {
                "provider_id": provider_id,
                "name": name,
                "kind": kind,
                "capabilities": capabilities,
                "categories": [
                    c.strip() for c in categories.replace("，", ",").split(",") if c.strip()
                ],
                "team_size": team_size,
                "gmv_served_12m": gmv_served_12m,
                "capacity": capacity,
            }
        )
        created = apply(body, user, session, state)
    except (ValidationError, ApiError) as exc:
        return error_page(request, user, exc)
    return RedirectResponse(f"/applications/{created.application.id}", status_code=303)


@router.get("/applications/{application_id}", response_class=HTMLResponse)
def application_page(
    application_id: int, request: Request, user: WebUser, session: SessionDep
) -> HTMLResponse:
    from windmaker.api.errors import ApiError
    from windmaker.api.routers.providers import application

    try:
        found = application(application_id, user, session)
    except ApiError:
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
    from pydantic import ValidationError

    from windmaker.api.errors import ApiError
    from windmaker.api.routers.providers import DecisionCreate, decide

    if user.role != "admin":
        raise PageNotFound
    try:
        decide(
            application_id,
            DecisionCreate.model_validate({"decision": decision, "note": note}),
            user,
            session,
        )
    except (ValidationError, ApiError) as exc:
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
    from windmaker.api.errors import ApiError
    from windmaker.api.routers.actions import ActionItemCreate, assign_action

    if not user.sees_brand(brand_id) or state.readmodel.brand(brand_id) is None:
        raise PageNotFound
    try:
        assign_action(brand_id, ActionItemCreate(action_id=action_id, owner=owner), user, session)
    except ApiError as exc:
        return error_page(request, user, exc)
    return RedirectResponse(f"/brands/{brand_id}#plan", status_code=303)


# -- data --------------------------------------------------------------------------------------
@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request, user: WebUser) -> HTMLResponse:
    if user.role not in ("admin", "operator"):
        raise PageNotFound
    return render(request, "data.html", user, nav="data", result=None, tables=contract.TABLES)


@router.post("/data/upload", response_class=HTMLResponse)
async def data_upload(request: Request, user: WebUser, state: StateDep) -> HTMLResponse:
    from windmaker.api.errors import ApiError
    from windmaker.api.routers.data import ingest_upload

    if user.role not in ("admin", "operator"):
        raise PageNotFound
    form = await request.form()
    upload = form.get("file")
    table = form.get("table") or None
    if not isinstance(upload, FormFile):
        return render(
            request,
            "data.html",
            user,
            nav="data",
            status_code=422,
            result=None,
            error=t("error.validation", page_lang(request)),
            tables=contract.TABLES,
        )
    try:
        result = await ingest_upload(
            user, state, cast(UploadFile, upload), str(table) if table else None
        )
    except ApiError as exc:
        message = t(
            f"error.{exc.code}", page_lang(request), **{k: str(v) for k, v in exc.values.items()}
        )
        return render(
            request,
            "data.html",
            user,
            nav="data",
            status_code=exc.status,
            result=None,
            error=message,
            tables=contract.TABLES,
        )
    state.readmodel.reload()
    return render(request, "data.html", user, nav="data", result=result, tables=contract.TABLES)


@router.post("/data/refresh", response_class=HTMLResponse)
def data_refresh(request: Request, user: WebUser, state: StateDep) -> HTMLResponse:
    from windmaker.api.routers.data import start_refresh

    if user.role not in ("admin", "operator"):
        raise PageNotFound
    job = start_refresh(user, state, state.readmodel)
    return render(request, "_job.html", user, job=job)


@router.get("/data/jobs/{job_id}", response_class=HTMLResponse)
def data_job(job_id: str, request: Request, user: WebUser, state: StateDep) -> HTMLResponse:
    if user.role not in ("admin", "operator"):
        raise PageNotFound
    job = state.jobs.get(job_id)
    if job is None:
        raise PageNotFound
    return render(request, "_job.html", user, job=job)


# -- reports -----------------------------------------------------------------------------------
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
    import tempfile

    from windmaker.reports import brand_report, to_pdf

    if not user.sees_brand(brand_id) or state.readmodel.brand(brand_id) is None:
        raise PageNotFound
    try:
        html = brand_report(state.readmodel, brand_id, month, page_lang(request))
    except (LookupError, ValueError):
        raise PageNotFound from None
    if format != "pdf":
        return HTMLResponse(html)
    with tempfile.TemporaryDirectory() as tmp:
        pdf = to_pdf(html, Path(tmp) / "report.pdf").read_bytes()
    name = f"{brand_id}-{month or 'latest'}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
