"""Action items: the plan's actions for a brand, with an owner, a status, a due date and a
history of every change (``action_item_events``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from windmaker.store.audit import append_audit
from windmaker.store.errors import InvalidValueError, NotFoundError
from windmaker.store.models import ACTION_STATUSES, ActionItem, ActionItemEvent, now


def _event(session: Session, item: ActionItem, *, actor: str, kind: str, **fields: object) -> None:
    session.add(ActionItemEvent(item_id=item.id, at=now(), actor=actor, kind=kind, **fields))


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
    """Track one action of a brand's plan (from ``g_plan``); audited, and the first line of its
    history."""
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
    _event(
        session,
        item,
        actor=actor,
        kind="created",
        to_status="open",
        owner=owner,
        due_date=due_date,
        note="",
    )
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


def get_action_item(session: Session, *, item_id: int) -> ActionItem:
    item = session.get(ActionItem, item_id)
    if item is None:
        raise NotFoundError(f"no action item {item_id}")
    return item


def set_action_status(
    session: Session, *, item_id: int, status: str, actor: str, note: str = ""
) -> ActionItem:
    """Move an action item to open, doing, done or dropped; audited and kept in its history."""
    if status not in ACTION_STATUSES:
        raise InvalidValueError(f"unknown status {status!r}; one of {', '.join(ACTION_STATUSES)}")
    item = get_action_item(session, item_id=item_id)
    previous = item.status
    item.status = status
    item.updated_at = now()
    _event(
        session, item, actor=actor, kind="status", from_status=previous, to_status=status, note=note
    )
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


def reassign_action_item(
    session: Session,
    *,
    item_id: int,
    owner: str,
    due_date: date | None,
    actor: str,
    note: str = "",
) -> ActionItem:
    """Give an action item a new owner and due date; audited and kept in its history."""
    item = get_action_item(session, item_id=item_id)
    before = {"owner": item.owner, "due_date": item.due_date.isoformat() if item.due_date else None}
    item.owner = owner
    item.due_date = due_date
    item.updated_at = now()
    _event(session, item, actor=actor, kind="assigned", owner=owner, due_date=due_date, note=note)
    append_audit(
        session,
        actor=actor,
        action="action_item.assigned",
        subject_type="brand",
        subject_id=item.brand_id,
        reason=note,
        detail={
            "item_id": item.id,
            "from": before,
            "to": {"owner": owner, "due_date": due_date.isoformat() if due_date else None},
        },
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


def list_action_item_events(session: Session, *, item_ids: Iterable[int]) -> list[ActionItemEvent]:
    """The history of the given items, oldest change first."""
    ids = list(item_ids)
    if not ids:
        return []
    stmt = (
        select(ActionItemEvent)
        .where(ActionItemEvent.item_id.in_(ids))
        .order_by(ActionItemEvent.item_id, ActionItemEvent.id)
    )
    return list(session.scalars(stmt))
