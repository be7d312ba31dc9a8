"""A brand's page: its stage, scores, bottleneck and plan, and the plan's action items.

``GET /brands/{id}?month=YYYY-MM`` shows one diagnosed month (default: the latest). The plan's
action items are moved by plain forms (CSRF-checked, no JavaScript needed): assign an owner and a
due date, start, finish; each answers with a redirect back to the plan.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from windmaker.api.deps import (
    SessionDep,
    StateDep,
)
from windmaker.codes import ActionStatus
from windmaker.services import actions
from windmaker.services.errors import ServiceError, invalid
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
    brand_id: str,
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    month: str | None = None,
) -> HTMLResponse:
    if not user.sees_brand(brand_id) or state.readmodel.brand(brand_id) is None:
        raise PageNotFound
    try:
        ctx = brand_context(state.readmodel, brand_id, page_lang(request), month or None, user)
    except LookupError:  # a month that was not diagnosed
        raise PageNotFound from None
    items = {a.action_id: a for a in actions.brand_items(session, user, brand_id)}
    history = actions.history(session, user, brand_id)
    return render(
        request,
        "brand.html",
        user,
        nav="brand",
        items=items,
        item_history=history,
        month_value=f"{ctx['period']:%Y-%m}" if ctx.get("period") else "",
        json=json,
        **ctx,
    )


def _back(brand_id: str, month: str) -> RedirectResponse:
    query = f"?month={month}" if month else ""
    return RedirectResponse(f"/brands/{brand_id}{query}#plan", status_code=303)


def _due(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid("due_date", "not a date (YYYY-MM-DD)") from None


@router.post("/brands/{brand_id}/assign", response_model=None)
def assign_form(
    brand_id: str,
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    action_id: Annotated[str, Form()],
    owner: Annotated[str, Form()],
    due_date: Annotated[str, Form()] = "",
    month: Annotated[str, Form()] = "",
) -> Response:
    """Assign a plan action (a new item), or give an existing item a new owner and due date."""
    if not user.sees_brand(brand_id) or state.readmodel.brand(brand_id) is None:
        raise PageNotFound
    try:
        due = _due(due_date)
        existing = {a.action_id: a for a in actions.brand_items(session, user, brand_id)}
        if action_id in existing:
            actions.reassign(session, user, existing[action_id].id, owner=owner, due_date=due)
        else:
            actions.assign(session, user, brand_id, action_id=action_id, owner=owner, due_date=due)
    except ServiceError as exc:
        return error_page(request, user, exc)
    return _back(brand_id, month)


@router.post("/brands/{brand_id}/action-items/{item_id}/status", response_model=None)
def status_form(
    brand_id: str,
    item_id: int,
    request: Request,
    user: WebUser,
    session: SessionDep,
    status: Annotated[ActionStatus, Form()],
    month: Annotated[str, Form()] = "",
) -> Response:
    """Move an item along (start, done); an item of another brand is not found."""
    try:
        item = actions.get(session, user, item_id)
        if item.brand_id != brand_id:
            raise PageNotFound
        actions.update(session, user, item_id, status=status.value)
    except ServiceError as exc:
        return error_page(request, user, exc)
    return _back(brand_id, month)
