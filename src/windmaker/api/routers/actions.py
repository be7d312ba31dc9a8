"""Action items: the plan's actions tracked to done, on brands in the caller's scope."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from windmaker.api.deps import BrandInScope, CurrentUser, SessionDep
from windmaker.api.errors import ERROR_RESPONSES, ApiError, not_found, responses
from windmaker.api.schemas import RowId, Timestamp
from windmaker.store import create_action_item, list_action_items, set_action_status
from windmaker.store.errors import InvalidValueError
from windmaker.store.models import ActionItem

router = APIRouter(tags=["action items"], responses=ERROR_RESPONSES)

Status = Literal["open", "doing", "done", "dropped"]


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
    status: Status
    note: str = Field(default="", max_length=2000)


@router.get(
    "/brands/{brand_id}/action-items",
    response_model=list[ActionItemPublic],
    summary="A brand's action items",
)
def brand_action_items(brand_id: BrandInScope, session: SessionDep) -> list[ActionItemPublic]:
    return [
        ActionItemPublic.model_validate(a) for a in list_action_items(session, brand_id=brand_id)
    ]


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
    if user.role == "brand":
        raise ApiError(403, "forbidden")
    try:
        item = create_action_item(
            session,
            brand_id=brand_id,
            action_id=body.action_id,
            owner=body.owner,
            actor=user.username,
            provider_id=user.provider_id,
            period=body.period,
            due_date=body.due_date,
        )
    except InvalidValueError as exc:
        raise ApiError(409, "conflict", reason=str(exc)) from None
    except IntegrityError:  # unique (brand, action, period): the action is already assigned
        session.rollback()
        raise ApiError(409, "conflict", reason="this action is already assigned") from None
    return ActionItemPublic.model_validate(item)


@router.patch(
    "/action-items/{item_id}",
    response_model=ActionItemPublic,
    summary="Update an action item's status",
    responses=responses(400),
)
def update_action(
    item_id: RowId, body: ActionItemUpdate, user: CurrentUser, session: SessionDep
) -> ActionItemPublic:
    item = session.get(ActionItem, item_id)
    if item is None or not user.sees_brand(item.brand_id):
        raise not_found()
    updated = set_action_status(
        session, item_id=item_id, status=body.status, actor=user.username, note=body.note
    )
    return ActionItemPublic.model_validate(updated)
