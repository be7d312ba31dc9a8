"""Action items: the plan's actions tracked to done, on brands in the caller's scope
(:mod:`windmaker.services.actions`)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from windmaker.api.deps import BrandInScope, CurrentUser, SessionDep
from windmaker.api.errors import ERROR_RESPONSES, responses
from windmaker.api.schemas import RowId, Timestamp
from windmaker.codes import ActionStatus
from windmaker.services import actions

router = APIRouter(tags=["action items"], responses=ERROR_RESPONSES)


class ActionItemPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: str
    action_id: str
    period: date | None
    owner: str
    provider_id: str | None
    status: str
    due_date: date | None
    created_at: Timestamp
    updated_at: Timestamp


class ActionItemCreate(BaseModel):
    action_id: str = Field(min_length=1, max_length=64)
    owner: str = Field(min_length=1, max_length=64)
    due_date: date | None = None
    period: date | None = None


class ActionItemUpdate(BaseModel):
    """A status move (open → doing → done, or dropped), with an optional note."""

    model_config = ConfigDict(use_enum_values=True)

    status: ActionStatus
    note: str = Field(default="", max_length=2000)


class ActionItemAssign(BaseModel):
    """A new owner and due date for an item (not for brand users)."""

    owner: str = Field(min_length=1, max_length=64)
    due_date: date | None = None
    note: str = Field(default="", max_length=2000)


class ActionItemEventPublic(BaseModel):
    """One change of an item: ``created``, ``status`` (from → to) or ``assigned``."""

    model_config = ConfigDict(from_attributes=True)

    item_id: int
    at: Timestamp
    actor: str
    kind: str
    from_status: str | None
    to_status: str | None
    owner: str | None
    due_date: date | None
    note: str


@router.get(
    "/brands/{brand_id}/action-items",
    response_model=list[ActionItemPublic],
    summary="A brand's action items",
)
def brand_action_items(
    brand_id: BrandInScope, user: CurrentUser, session: SessionDep
) -> list[ActionItemPublic]:
    rows = actions.brand_items(session, user, brand_id)
    return [ActionItemPublic.model_validate(a) for a in rows]


@router.post(
    "/brands/{brand_id}/action-items",
    response_model=ActionItemPublic,
    status_code=201,
    summary="Assign an action of the brand's plan to an owner",
    responses=responses(400, 403, 409),
)
def assign_action(
    brand_id: BrandInScope, body: ActionItemCreate, user: CurrentUser, session: SessionDep
) -> ActionItemPublic:
    item = actions.assign(
        session,
        user,
        brand_id,
        action_id=body.action_id,
        owner=body.owner,
        period=body.period,
        due_date=body.due_date,
    )
    return ActionItemPublic.model_validate(item)


@router.patch(
    "/action-items/{item_id}",
    response_model=ActionItemPublic,
    summary="Move an action item to another status",
    responses=responses(400),
)
def update_action(
    item_id: RowId, body: ActionItemUpdate, user: CurrentUser, session: SessionDep
) -> ActionItemPublic:
    item = actions.update(session, user, item_id, status=body.status, note=body.note)
    return ActionItemPublic.model_validate(item)


@router.post(
    "/action-items/{item_id}/assignment",
    response_model=ActionItemPublic,
    summary="Give an action item a new owner and due date",
    responses=responses(400, 403),
)
def reassign_action(
    item_id: RowId, body: ActionItemAssign, user: CurrentUser, session: SessionDep
) -> ActionItemPublic:
    item = actions.reassign(
        session, user, item_id, owner=body.owner, due_date=body.due_date, note=body.note
    )
    return ActionItemPublic.model_validate(item)


@router.get(
    "/action-items/{item_id}/history",
    response_model=list[ActionItemEventPublic],
    summary="Every change of an action item, oldest first",
)
def action_history(
    item_id: RowId, user: CurrentUser, session: SessionDep
) -> list[ActionItemEventPublic]:
    return [
        ActionItemEventPublic.model_validate(e)
        for e in actions.item_history(session, user, item_id)
    ]
