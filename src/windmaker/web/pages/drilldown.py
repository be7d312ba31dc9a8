"""The drill-down pages: from a brand to its live rooms, sessions, influencers and products,
each with its driver tree and where the funnel leaks (:mod:`windmaker.views.drilldown`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from windmaker.api.deps import StateDep
from windmaker.services.identity import Principal
from windmaker.views.drilldown import drill_context
from windmaker.views.funnel import WINDOWS
from windmaker.web.pages.common import PageNotFound, WebUser, page_lang, render

router = APIRouter()


def _page(
    request: Request,
    user: Principal,
    state: Any,
    brand_id: str,
    level: str,
    entity_id: str | None = None,
    days: int = WINDOWS[0],
) -> HTMLResponse:
    """One level's page; a brand outside the user's scope, or an entity not the brand's, is
    the not-found page."""
    if not user.sees_brand(brand_id) or state.readmodel.brand(brand_id) is None:
        raise PageNotFound
    with state.warehouse_factory() as wh:
        try:
            ctx = drill_context(
                state.readmodel,
                wh,
                brand_id,
                page_lang(request),
                level=level,
                entity_id=entity_id,
                days=days,
                viewer=user,
            )
        except LookupError:
            raise PageNotFound from None
    crumbs = [*ctx.pop("crumbs"), *ctx.pop("crumbs_extra", [])]
    return render(request, "drill.html", user, nav="brand", crumbs=crumbs, **ctx)


@router.get("/brands/{brand_id}/drill", response_class=HTMLResponse)
def drill_brand(
    brand_id: str, request: Request, user: WebUser, state: StateDep, days: int = WINDOWS[0]
) -> HTMLResponse:
    return _page(request, user, state, brand_id, "brand", days=days)


@router.get("/brands/{brand_id}/drill/accounts/{account_id}", response_class=HTMLResponse)
def drill_account(
    brand_id: str,
    account_id: str,
    request: Request,
    user: WebUser,
    state: StateDep,
    days: int = WINDOWS[0],
) -> HTMLResponse:
    return _page(request, user, state, brand_id, "account", account_id, days)


@router.get("/brands/{brand_id}/drill/sessions/{session_id}", response_class=HTMLResponse)
def drill_session(
    brand_id: str,
    session_id: str,
    request: Request,
    user: WebUser,
    state: StateDep,
    days: int = WINDOWS[0],
) -> HTMLResponse:
    return _page(request, user, state, brand_id, "session", session_id, days)


@router.get("/brands/{brand_id}/drill/skus", response_class=HTMLResponse)
def drill_skus(
    brand_id: str, request: Request, user: WebUser, state: StateDep, days: int = WINDOWS[0]
) -> HTMLResponse:
    return _page(request, user, state, brand_id, "skus", days=days)


@router.get("/brands/{brand_id}/drill/influencers", response_class=HTMLResponse)
def drill_influencers(
    brand_id: str, request: Request, user: WebUser, state: StateDep, days: int = WINDOWS[0]
) -> HTMLResponse:
    return _page(request, user, state, brand_id, "influencers", days=days)
