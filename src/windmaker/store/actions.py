"""Action items: the plan's actions for a brand, with an owner, a status and a due date."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from windmaker.store.audit import append_audit
from windmaker.store.errors import InvalidValueError, NotFoundError
from windmaker.store.models import ACTION_STATUSES, ActionItem, now


def create_action_item(
    session: Session,
    *,
    brand_id: str,
    action_id: str,
    owner: str,
    actor: str,
    provider_id: str | None = None,
    period: date | None = None,
    due_date: date | None = None,
) -> ActionItem:
    """Track one action of a brand's plan (from ``g_plan``); audited."""
    item = ActionItem(
        brand_id=brand_id,
        action_id=action_id,
        owner=owner,
        provider_id=provider_id,
        period=period,
        due_date=due_date,
        status="open",
    )
    session.add(item)
    session.flush()
    append_audit(
        session,
        actor=actor,
        action="action_item.created",
        subject_type="brand",
        subject_id=brand_id,
        detail={"item_id": item.id, "action_id": action_id, "owner": owner},
    )
    session.commit()
    return item


def set_action_status(
    session: Session, *, item_id: int, status: str, actor: str, note: str = ""
) -> ActionItem:
    """Move an action item to open, doing, done or dropped; audited."""
    if status not in ACTION_STATUSES:
        raise InvalidValueError(f"unknown status {status!r}; one of {', '.join(ACTION_STATUSES)}")
    item = session.get(ActionItem, item_id)
    if item is None:
        raise NotFoundError(f"no action item {item_id}")
    previous = item.status
    item.status = status
    item.updated_at = now()
    append_audit(
        session,
        actor=actor,
        action="action_item.status",
        subject_type="brand",
        subject_id=item.brand_id,
        reason=note,
        detail={"item_id": item.id, "from": previous, "to": status},
    )
    session.commit()
    return item


def list_action_items(
    session: Session,
    *,
    brand_id: str | None = None,
    provider_id: str | None = None,
    status: str | None = None,
) -> list[ActionItem]:
    stmt = select(ActionItem).order_by(ActionItem.id)
    if brand_id is not None:
        stmt = stmt.where(ActionItem.brand_id == brand_id)
    if provider_id is not None:
        stmt = stmt.where(ActionItem.provider_id == provider_id)
    if status is not None:
        stmt = stmt.where(ActionItem.status == status)
    return list(session.scalars(stmt))
