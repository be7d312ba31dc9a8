"""A brand's page: its stage, scores, bottleneck and plan, and the plan's action items."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from windmaker.api.deps import (
    SessionDep,
    StateDep,
)
from windmaker.services import actions
from windmaker.services.errors import ServiceError
from windmaker.views.brand import brand_context
from windmaker.web.pages.common import (
    PageNotFound,
    WebUser,
    error_page,
    page_lang,
    render,
)

router = APIRouter()


@router.get("/brands/{brand_id}", response_class=HTMLResponse)
def brand_page(
    brand_id: str, request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> HTMLResponse:
    if not user.sees_brand(brand_id) or state.readmodel.brand(brand_id) is None:
        raise PageNotFound
    ctx = brand_context(state.readmodel, brand_id, page_lang(request), viewer=user)
    items = {a.action_id: a for a in actions.brand_items(session, user, brand_id)}
    return render(request, "brand.html", user, nav="brand", items=items, json=json, **ctx)


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
