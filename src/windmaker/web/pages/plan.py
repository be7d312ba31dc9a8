"""The windmaker plan's page (造风者计划资源分配): the budget form, the latest proposal (or one
chosen with ``?allocation=``) per provider with its reasons, the year-end tier forecast with and
without it, and the buttons that confirm or reject it.

For admins only: anyone else gets the not-found page, as the API's 403 would tell them nothing
they may use.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from windmaker.api.deps import SessionDep, StateDep
from windmaker.api.schemas import RowId
from windmaker.i18n import name, reason_text, t
from windmaker.services import allocation as service
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal
from windmaker.views import charts
from windmaker.web.pages.common import PageNotFound, WebUser, error_page, page_lang, render

router = APIRouter()

#: Providers listed on the page (the most funds first).
SHOWN = 100
#: Earlier proposals listed.
HISTORY = 10


def _admin(user: Principal) -> None:
    if user.role != "admin":
        raise PageNotFound


def _tier_rows(record: service.AllocationRecord, lang: str) -> list[dict[str, Any]]:
    """The forecast per tier as the table and the chart read it."""
    return [
        {
            "code": x.code,
            "tier": name("tier", x.code, lang),
            "threshold": x.threshold,
            "target": x.target,
            "now": x.now,
            "without": vars(x.without_plan),
            "with": vars(x.with_plan),
        }
        for x in record.tiers
    ]


def _page(
    request: Request,
    user: Principal,
    session: SessionDep,
    *,
    chosen: int | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    form_errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    lang = page_lang(request)
    record: service.AllocationRecord | None
    if chosen is not None:
        try:
            record = service.get_allocation(session, user, chosen)
        except ServiceError:
            raise PageNotFound from None
    else:
        record = service.latest_allocation(session, user)
    history = service.list_allocations(session, user, limit=HISTORY)
    shares = record.by_provider() if record is not None else []
    tiers = _tier_rows(record, lang) if record is not None else []
    if form is None:
        form = {"periods": "12"}
        if record is not None and record.periods:
            form |= {
                "funds": f"{record.funds_per_period[0]:.0f}",
                "traffic": f"{record.traffic_per_period[0]:.0f}",
                "periods": str(len(record.periods)),
            }
    return render(
        request,
        "plan.html",
        user,
        status_code=status_code,
        nav="plan",
        allocation=record,
        shares=[
            {
                "share": s,
                "status": name("provider_status", s.status, lang),
                "reason": reason_text(s.reason_code, s.reason_params, lang),
            }
            for s in shares[:SHOWN]
        ],
        more=max(len(shares) - SHOWN, 0),
        tiers=tiers,
        forecast_chart=(
            charts.tier_forecast(tiers, lang, record.interval) if record and tiers else None
        ),
        history=history,
        form=form,
        errors=errors or {},
        form_errors=form_errors or [],
        max_periods=service.MAX_PERIODS,
    )


@router.get("/plan", response_class=HTMLResponse)
def plan_page(
    request: Request,
    user: WebUser,
    session: SessionDep,
    allocation: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> HTMLResponse:
    _admin(user)
    return _page(request, user, session, chosen=allocation)


@router.post("/plan", response_model=None)
def propose_form(
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    funds: Annotated[str, Form(max_length=40)] = "",
    traffic: Annotated[str, Form(max_length=40)] = "",
    periods: Annotated[str, Form(max_length=4)] = "12",
    start: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Propose an allocation from the budget form; a form with errors comes back with each
    field's message next to it, in the reader's language."""
    _admin(user)
    lang = page_lang(request)
    typed = {"funds": funds, "traffic": traffic, "periods": periods, "start": start}
    errors: dict[str, str] = {}
    funds_value = service.parse_amount(funds)
    traffic_value = service.parse_amount(traffic)
    if funds_value is None:
        errors["funds"] = t("plan.error.amount", lang)
    if traffic_value is None:
        errors["traffic"] = t("plan.error.amount", lang)
    months = int(periods) if periods.strip().isdigit() else 0
    if not 1 <= months <= service.MAX_PERIODS:
        errors["periods"] = t("plan.error.periods", lang, most=service.MAX_PERIODS)
    first: date | None = None
    if start.strip():
        try:
            first = date.fromisoformat(start.strip()[:7] + "-01")
        except ValueError:
            errors["start"] = t("plan.error.start", lang)
    if errors or funds_value is None or traffic_value is None:
        return _page(request, user, session, form=typed, errors=errors, status_code=422)
    try:
        record = service.propose_allocation(
            session,
            Configs.of(state.settings),
            user,
            funds_per_period=funds_value,
            traffic_per_period=traffic_value,
            periods=months,
            start=first,
        )
    except ServiceError as exc:
        if exc.status != 422:
            return error_page(request, user, exc)
        details = list(exc.detail or [])
        shortfalls = [
            reason_text(d["code"], d.get("params"), lang) for d in details if d.get("code")
        ]
        fields = {
            _FIELDS.get(str(d["loc"][0]), "funds"): t("plan.error.range", lang)
            for d in details
            if d.get("loc") and not d.get("code")
        }
        return _page(
            request,
            user,
            session,
            form=typed,
            errors=fields,
            form_errors=shortfalls,
            status_code=422,
        )
    return RedirectResponse(f"/plan?allocation={record.id}#proposal", status_code=303)


#: The service's field names → the form's.
_FIELDS = {
    "funds_per_period": "funds",
    "traffic_per_period": "traffic",
    "periods": "periods",
    "start": "start",
}


@router.post("/plan/{allocation_id}/decision", response_model=None)
def decide_form(
    allocation_id: RowId,
    request: Request,
    user: WebUser,
    session: SessionDep,
    outcome: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """An admin confirms or rejects a proposal; the decision is in the audit log."""
    _admin(user)
    try:
        service.decide_allocation(session, user, allocation_id, outcome=outcome, note=note)
    except ServiceError as exc:
        return error_page(request, user, exc)
    return RedirectResponse(f"/plan?allocation={allocation_id}#proposal", status_code=303)
