"""Service providers: the registry, a provider's page, the admission form and the review of
applications, warnings and exits."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from windmaker.api.deps import (
    SessionDep,
    StateDep,
)
from windmaker.codes import ProviderKind
from windmaker.ecosystem.admission import ApplicationInput
from windmaker.i18n import name as code_name
from windmaker.i18n import t
from windmaker.numbers import decimal
from windmaker.services import providers
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal
from windmaker.views.ecosystem import provider_view, registry_view
from windmaker.views.readmodel import ReadModel
from windmaker.web.pages.common import (
    PageNotFound,
    WebUser,
    error_page,
    page_lang,
    render,
)

router = APIRouter()

#: The form's fields, in the order the form asks for them (errors are listed in this order).
FIELDS = (
    "provider_id",
    "name",
    "kind",
    "capabilities",
    "categories",
    "team_size",
    "gmv_served_12m",
    "cases",
    "founded_at",
    "capacity",
)


def _kinds() -> tuple[str, ...]:
    return tuple(ProviderKind)


def _own_status(session: SessionDep, user: Principal) -> str | None:
    """The status of a provider user's own provider (None: not registered yet)."""
    if user.role != "provider" or user.provider_id is None:
        return None
    try:
        return providers.provider(session, user, user.provider_id).status
    except ServiceError:
        return None


def _registry_page(
    request: Request,
    user: Principal,
    state: StateDep,
    session: SessionDep,
    *,
    q: str = "",
    kind: str = "",
    tier: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    form_error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    registry = registry_view(session, Configs.of(state.settings), user, q=q, kind=kind, tier=tier)
    queue = [(r.application, r.proposal) for r in providers.applications(session, user)]
    own_status = _own_status(session, user)
    mine = (
        providers.provider_applications(session, user, user.provider_id)
        if user.role == "provider" and user.provider_id
        else []
    )
    may_apply = user.role == "admin" or (
        user.role == "provider" and (own_status is None or own_status in providers.MAY_APPLY)
    )
    return render(
        request,
        "providers.html",
        user,
        status_code=status_code,
        nav="providers",
        registry=registry,
        queue=queue if user.role in ("admin", "operator") else [],
        mine=mine,
        own_status=own_status,
        may_apply=may_apply,
        kinds=_kinds(),
        categories=state.readmodel.categories(),
        form=form or {"provider_id": user.provider_id or ""},
        errors=errors or {},
        form_error=form_error,
        today=date.today().isoformat(),
    )


@router.get("/providers", response_class=HTMLResponse)
def providers_page(
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    q: str = "",
    kind: str = "",
    tier: str = "",
) -> HTMLResponse:
    if user.role == "brand":
        raise PageNotFound
    kind = kind if kind in _kinds() else ""
    return _registry_page(request, user, state, session, q=q[:100], kind=kind, tier=tier[:32])


@router.get("/providers/{provider_id}", response_class=HTMLResponse)
def provider_page(
    provider_id: str, request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> HTMLResponse:
    try:
        view = provider_view(
            session, Configs.of(state.settings), user, provider_id, state.readmodel
        )
    except ServiceError:
        raise PageNotFound from None
    lang = page_lang(request)
    evals = sorted(view.evaluations, key=lambda e: e.period)
    return render(
        request,
        "provider.html",
        user,
        nav="providers",
        view=view,
        provider=view.provider,
        evals=list(reversed(evals)),
        latest=view.latest,
        standing=view.standing,
        history_chart=_history_chart(evals, lang) if evals else None,
    )


def _history_chart(evals: list[providers.EvaluationRecord], lang: str) -> dict[str, Any]:
    """The composite score over the months evaluated, months below the standard marked."""
    from windmaker.numbers import month

    score = t("providers.score", lang)
    return {
        "wm": {"lang": lang, "value": "num"},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 48, "right": 16, "top": 32, "bottom": 40},
        "xAxis": {
            "type": "category",
            "name": t("label.period", lang),
            "nameLocation": "middle",
            "nameGap": 28,
            "data": [month(e.period, lang) for e in evals],
        },
        "yAxis": {"type": "value", "name": score},
        "series": [
            {
                "type": "line",
                "name": score,
                "data": [
                    {
                        "value": round(e.score, 2),
                        **({} if e.meets_standard else {"itemStyle": {"color": "#c23531"}}),
                    }
                    for e in evals
                ],
                "markLine": {
                    "silent": True,
                    "symbol": "none",
                    "data": [{"yAxis": 0, "name": t("providers.median_provider", lang)}],
                },
            }
        ],
    }


@router.post("/providers/{provider_id}/decisions/{decision_id}", response_model=None)
def review_exit_form(
    provider_id: str,
    decision_id: int,
    request: Request,
    user: WebUser,
    session: SessionDep,
    answer: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """An admin confirms or dismisses a warning or exit the evaluation proposed."""
    try:
        waiting = providers.open_exit_proposals(session, user, provider_id)
    except ServiceError:
        raise PageNotFound from None
    if decision_id not in {d.id for d in waiting}:
        raise PageNotFound
    try:
        outcome = "dismissed" if answer == "dismiss" else None
        providers.confirm_exit(session, user, decision_id, note=note.strip(), outcome=outcome)
    except ServiceError as exc:
        return error_page(request, user, exc)
    return RedirectResponse(f"/providers/{provider_id}#proposals", status_code=303)


# -- the admission form ------------------------------------------------------------------------
_AMOUNT = re.compile(r"^\s*([0-9][0-9,，\s]*(?:\.[0-9]+)?)\s*(万|亿)?\s*(元)?\s*$")


def _amount(text: str) -> str:
    """GMV as typed (``60,000,000``, ``6000万``, ``0.6亿``) in yuan; other text passes as it is,
    for the model to refuse."""
    m = _AMOUNT.match(text)
    if not m:
        return text.strip()
    try:
        value = Decimal(re.sub(r"[,，\s]", "", m.group(1)))
    except InvalidOperation:
        return text.strip()
    value *= {"万": Decimal(10_000), "亿": Decimal(100_000_000)}.get(m.group(2) or "", 1)
    return str(value.quantize(Decimal("0.01")))


def _categories(text: str, readmodel: ReadModel) -> list[str]:
    """Categories as typed, comma separated, by code or by name in either language."""
    known: dict[str, str] = {}
    for code in readmodel.categories():
        known[code.lower()] = code
        for lang in ("zh-CN", "en"):
            known[code_name("category", code, lang).lower()] = code
    parts = [p.strip() for p in re.split(r"[,，、;；\n]", text) if p.strip()]
    return list(dict.fromkeys(known.get(p.lower(), p) for p in parts))


def _field_message(error: dict[str, Any], lang: str) -> str:
    """A pydantic error as the catalogue's words for it, its limits formatted."""
    ctx = {
        k: decimal(v, 2, lang)
        for k, v in (error.get("ctx") or {}).items()
        if isinstance(v, (int, float, Decimal))
    }
    key = f"providers.form.error.{error['type']}"
    text = t(key, lang, **ctx) if ctx else t(key, lang)
    return text if text != key else t("providers.form.error.invalid", lang)


def field_errors(exc: ValidationError, lang: str) -> dict[str, str]:
    """The first message per form field of a validation error, in ``lang``."""
    out: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "form"
        out.setdefault(field, _field_message(dict(error), lang))
    return out


@router.post("/applications", response_model=None)
def submit_application_form(
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    provider_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    capabilities: Annotated[list[str] | None, Form()] = None,
    categories: Annotated[str, Form()] = "",
    team_size: Annotated[str, Form()] = "",
    gmv_served_12m: Annotated[str, Form()] = "",
    capacity: Annotated[str, Form()] = "",
    cases: Annotated[str, Form()] = "",
    founded_at: Annotated[str, Form()] = "",
) -> Response:
    """File an application from the form; an invalid one comes back as the form, with each
    field's message next to it in the reader's language."""
    lang = page_lang(request)
    if user.role == "provider" and not provider_id.strip():
        provider_id = user.provider_id or ""  # a provider files for itself
    typed = {
        "provider_id": provider_id.strip(),
        "name": name.strip(),
        "kind": kind,
        "capabilities": capabilities or [],
        "categories": categories,
        "team_size": team_size.strip(),
        "gmv_served_12m": gmv_served_12m.strip(),
        "capacity": capacity.strip(),
        "cases": cases,
        "founded_at": founded_at.strip(),
    }
    data: dict[str, Any] = {
        **typed,
        "categories": _categories(categories, state.readmodel),
        "gmv_served_12m": _amount(gmv_served_12m),
        "cases": [c.strip() for c in cases.splitlines() if c.strip()],
        "founded_at": founded_at.strip() or None,
    }
    for key in ("provider_id", "name", "kind", "team_size", "gmv_served_12m", "capacity"):
        if data[key] == "":
            del data[key]  # reads as "required", not as a malformed number

    def again(errors: dict[str, str], form_error: str, status: int) -> HTMLResponse:
        return _registry_page(
            request,
            user,
            state,
            session,
            form=typed,
            errors=errors,
            form_error=form_error,
            status_code=status,
        )

    try:
        body = ApplicationInput.model_validate(data)
    except ValidationError as exc:
        return again(field_errors(exc, lang), t("providers.form.fix_fields", lang), 422)
    try:
        created = providers.apply(session, Configs.of(state.settings), user, body.to_application())
    except ServiceError as exc:
        if exc.status == 422:
            fields = {
                str(d["loc"][0]): t("providers.form.error.invalid", lang)
                for d in exc.detail or []
                if d.get("loc")
            }
            return again(fields, t("providers.form.fix_fields", lang), 422)
        if exc.status == 409:
            message = t("providers.form.in_standing_refused", lang, provider=body.provider_id)
            return again({}, message, 409)
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
        quals=found.application.qualifications,
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


__all__ = ["FIELDS", "field_errors", "router"]
