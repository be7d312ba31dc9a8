"""Action items: the actions of a brand's plan assigned to an owner and tracked to done.

Everyone works on the brands in their scope (a brand outside it is not found). Assigning is for
the people who carry the plan out (admins, operators, providers); a brand user moves its own
items along but does not assign them. An item assigned by a provider user carries that provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.services.errors import conflict, forbidden, invalid, not_found
from windmaker.services.identity import Principal
from windmaker.store.models import ActionItem


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


def update(
    session: Session, user: Principal, item_id: int, *, status: str, note: str = ""
) -> ActionItemRecord:
    """Move an item to open, doing, done or dropped, with a note; audited."""
    item = session.get(ActionItem, item_id)
    if item is None or not user.sees_brand(item.brand_id):
        raise not_found(f"no action item {item_id}")
    try:
        updated = store.set_action_status(
            session, item_id=item_id, status=status, actor=user.username, note=note
        )
    except store.InvalidValueError as exc:
        raise invalid("status", str(exc)) from None
    return ActionItemRecord.of(updated)
