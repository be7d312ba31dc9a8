"""Service providers: the registry, a provider's page and the admission forms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from windmaker.api.deps import (
    SessionDep,
    StateDep,
)
from windmaker.codes import ProviderKind
from windmaker.ecosystem.admission import ProviderApplication
from windmaker.services import providers
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.views.ecosystem import provider_view
from windmaker.web.pages.common import (
    PageNotFound,
    WebUser,
    error_page,
    render,
)

router = APIRouter()


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
