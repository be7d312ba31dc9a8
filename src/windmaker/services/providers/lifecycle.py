"""Warnings and exits (准出): the decisions about providers, and an admin confirming (or
overriding) the warnings and exits the evaluation proposed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from windmaker import store
from windmaker.services.errors import conflict, invalid, not_found
from windmaker.services.identity import Principal
from windmaker.services.providers.records import DecisionRecord
from windmaker.services.providers.registry import require_admin


def decisions(
    session: Session,
    user: Principal,
    *,
    status: str | None = None,
    kind: str | None = None,
    provider_id: str | None = None,
) -> list[DecisionRecord]:
    """Decisions about providers in ``user``'s scope (optionally one provider's), newest first."""
    if user.role == "brand" or (user.role == "provider" and user.provider_id is None):
        return []
    if user.role == "provider":
        if provider_id not in (None, user.provider_id):
            return []
        provider_id = user.provider_id
    rows = store.list_decisions(session, status=status, kind=kind, provider_id=provider_id)
    return [DecisionRecord.of(d) for d in rows]


def confirm_exit(
    session: Session,
    user: Principal,
    decision_id: int,
    *,
    note: str = "",
    outcome: str | None = None,
) -> DecisionRecord:
    """An admin confirms (or overrides with ``outcome``) a proposed warning or exit (准出确认)."""
    require_admin(user)
    try:
        taken = store.confirm_decision(
            session, decision_id=decision_id, reviewer=user.username, note=note, outcome=outcome
        )
    except store.NotFoundError as exc:
        raise not_found(str(exc)) from None
    except store.AlreadyDecidedError as exc:
        raise conflict(str(exc)) from None
    except store.InvalidValueError as exc:
        raise invalid("outcome", str(exc)) from None
    return DecisionRecord.of(taken)


def open_exit_proposals(
    session: Session, user: Principal, provider_id: str
) -> list[DecisionRecord]:
    """The warnings and exits the evaluation proposed for ``provider_id`` that wait for a
    person, newest first (the provider page's review list)."""
    return [
        d
        for d in decisions(session, user, status="proposed", provider_id=provider_id)
        if d.kind in ("warning", "exit")
    ]
