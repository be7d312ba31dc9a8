"""Action items: the actions of a brand's plan assigned to an owner and tracked to done.

Everyone works on the brands in their scope (a brand outside it is not found, and so is an item
of such a brand). Assigning (an owner and a due date) is for the people who carry the plan out
(admins, operators, providers of the brand); a brand user moves its own items along (open → doing
→ done) but does not assign them. An item assigned by a provider user carries that provider.
Every change is kept in the item's history (:class:`ActionEventRecord`) and in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.services.errors import conflict, forbidden, invalid, not_found
from windmaker.services.identity import Principal
from windmaker.store.actions import (
    get_action_item,
    list_action_item_events,
    reassign_action_item,
)
from windmaker.store.errors import NotFoundError
from windmaker.store.models import ActionItem, ActionItemEvent


@dataclass(frozen=True)
class ActionItemRecord:
    """One tracked action of a brand's plan."""

    id: int
    brand_id: str
    action_id: str
    period: date | None
    owner: str
    provider_id: str | None
    status: str
    due_date: date | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, a: ActionItem) -> ActionItemRecord:
        return cls(
            id=a.id,
            brand_id=a.brand_id,
            action_id=a.action_id,
            period=a.period,
            owner=a.owner,
            provider_id=a.provider_id,
            status=a.status,
            due_date=a.due_date,
            created_at=a.created_at,
            updated_at=a.updated_at,
        )


@dataclass(frozen=True)
class ActionEventRecord:
    """One line of an item's history: who changed what, when (a status from → to, or an owner
    and due date)."""

    item_id: int
    at: datetime
    actor: str
    kind: str
    from_status: str | None
    to_status: str | None
    owner: str | None
    due_date: date | None
    note: str

    @classmethod
    def of(cls, e: ActionItemEvent) -> ActionEventRecord:
        return cls(
            item_id=e.item_id,
            at=e.at,
            actor=e.actor,
            kind=e.kind,
            from_status=e.from_status,
            to_status=e.to_status,
            owner=e.owner,
            due_date=e.due_date,
            note=e.note or "",
        )


def _in_scope(user: Principal, brand_id: str) -> None:
    if not user.sees_brand(brand_id):
        raise not_found(f"no brand {brand_id!r}")


def brand_items(session: Session, user: Principal, brand_id: str) -> list[ActionItemRecord]:
    """A brand's action items, oldest first."""
    _in_scope(user, brand_id)
    return [ActionItemRecord.of(a) for a in store.list_action_items(session, brand_id=brand_id)]


def assign(
    session: Session,
    user: Principal,
    brand_id: str,
    *,
    action_id: str,
    owner: str,
    period: date | None = None,
    due_date: date | None = None,
) -> ActionItemRecord:
    """Assign one action of ``brand_id``'s plan to ``owner``; an action is assigned once per
    period (a second assignment is a conflict)."""
    _in_scope(user, brand_id)
    if user.role == "brand":
        raise forbidden()
    owner = owner.strip()
    if not owner:
        raise invalid("owner", "an owner is required")
    try:
        item = store.create_action_item(
            session,
            brand_id=brand_id,
            action_id=action_id,
            owner=owner,
            actor=user.username,
            provider_id=user.provider_id,
            period=period,
            due_date=due_date,
        )
    except store.InvalidValueError as exc:
        raise conflict(str(exc)) from None
    except IntegrityError:  # unique (brand, action, period): the action is already assigned
        session.rollback()
        raise conflict("this action is already assigned") from None
    return ActionItemRecord.of(item)


def _item_in_scope(session: Session, user: Principal, item_id: int) -> ActionItem:
    """The item, when its brand is in ``user``'s scope; otherwise not found (never forbidden, so
    an id outside the scope tells nothing)."""
    try:
        item = get_action_item(session, item_id=item_id)
    except NotFoundError:
        raise not_found(f"no action item {item_id}") from None
    if not user.sees_brand(item.brand_id):
        raise not_found(f"no action item {item_id}")
    return item


def get(session: Session, user: Principal, item_id: int) -> ActionItemRecord:
    """One action item of a brand in scope."""
    return ActionItemRecord.of(_item_in_scope(session, user, item_id))


def update(
    session: Session, user: Principal, item_id: int, *, status: str, note: str = ""
) -> ActionItemRecord:
    """Move an item to open, doing, done or dropped, with a note; audited and kept in its
    history. A move to the status it already has changes nothing (and adds no history line)."""
    item = _item_in_scope(session, user, item_id)
    if item.status == status:
        return ActionItemRecord.of(item)
    try:
        updated = store.set_action_status(
            session, item_id=item_id, status=status, actor=user.username, note=note
        )
    except store.InvalidValueError as exc:
        raise invalid("status", str(exc)) from None
    return ActionItemRecord.of(updated)


def reassign(
    session: Session,
    user: Principal,
    item_id: int,
    *,
    owner: str,
    due_date: date | None,
    note: str = "",
) -> ActionItemRecord:
    """Give an item a new owner and due date; not for brand users (they do not assign)."""
    item = _item_in_scope(session, user, item_id)
    if user.role == "brand":
        raise forbidden()
    owner = owner.strip()
    if not owner:
        raise invalid("owner", "an owner is required")
    updated = reassign_action_item(
        session, item_id=item.id, owner=owner, due_date=due_date, actor=user.username, note=note
    )
    return ActionItemRecord.of(updated)


def history(session: Session, user: Principal, brand_id: str) -> dict[int, list[ActionEventRecord]]:
    """Every change of the brand's items, per item id, oldest first."""
    _in_scope(user, brand_id)
    ids = [a.id for a in store.list_action_items(session, brand_id=brand_id)]
    out: dict[int, list[ActionEventRecord]] = {i: [] for i in ids}
    for e in list_action_item_events(session, item_ids=ids):
        out[e.item_id].append(ActionEventRecord.of(e))
    return out


def item_history(session: Session, user: Principal, item_id: int) -> list[ActionEventRecord]:
    """One item's changes, oldest first."""
    item = _item_in_scope(session, user, item_id)
    return [ActionEventRecord.of(e) for e in list_action_item_events(session, item_ids=[item.id])]
