"""The operator's workbench: the portfolio, its filters and its exports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from windmaker import contract
from windmaker.api.deps import (
    AppState,
    StateDep,
)
from windmaker.services.identity import Principal
from windmaker.views import exports
from windmaker.web.pages.common import (
    PageNotFound,
    WebUser,
    render,
)

router = APIRouter()


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
