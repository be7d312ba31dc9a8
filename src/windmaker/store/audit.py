"""The append-only audit log: append a line, read lines; nothing else.

Three guards keep the log append-only:

- a ``before_flush`` hook on every session refuses a flush that would update or delete an
  ``AuditEntry`` (changing a loaded entry, ``session.delete(entry)``);
- a ``do_orm_execute`` hook refuses ORM bulk ``update(AuditEntry)`` / ``delete(AuditEntry)``;
- the migrations create database triggers refusing ``UPDATE``/``DELETE`` on ``audit_log``
  (SQLite and PostgreSQL), so raw SQL cannot alter it either.

Readers get frozen copies (:class:`AuditRecord`), never live ORM objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from windmaker.store.errors import AuditLogImmutableError
from windmaker.store.models import AuditEntry, now


@dataclass(frozen=True)
class AuditRecord:
    """A read-only copy of one audit line."""

    id: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    reason: str
    detail: dict[str, Any]


def append_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one line to the log in the session's current transaction (committed by the caller).

    Store functions call this in the same transaction as the change they record, so a change
    and its audit line are committed together or not at all.
    """
    session.add(
        AuditEntry(
            at=now(),
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            reason=reason or "",
            detail=dict(detail or {}),
        )
    )


def list_audit(
    session: Session,
    *,
    subject_type: str | None = None,
    subject_id: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
) -> list[AuditRecord]:
    """Audit lines, oldest first, optionally filtered; frozen copies."""
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if subject_type is not None:
        stmt = stmt.where(AuditEntry.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(AuditEntry.subject_id == str(subject_id))
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor == actor)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        AuditRecord(
            id=e.id,
            at=e.at,
            actor=e.actor,
            action=e.action,
            subject_type=e.subject_type,
            subject_id=e.subject_id,
            reason=e.reason,
            detail=dict(e.detail or {}),
        )
        for e in session.scalars(stmt)
    ]


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditEntry):
            raise AuditLogImmutableError(
                f"audit entry {obj.id} cannot be deleted: the log is append-only"
            )
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) and session.is_modified(obj):
            raise AuditLogImmutableError(
                f"audit entry {obj.id} cannot be changed: the log is append-only"
            )


@event.listens_for(Session, "do_orm_execute")
def _refuse_audit_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ is AuditEntry:
        raise AuditLogImmutableError("bulk update/delete of the audit log is refused")


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(_mapper: object, _conn: object, target: AuditEntry) -> None:
    raise AuditLogImmutableError(f"audit entry {target.id} cannot be changed")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(_mapper: object, _conn: object, target: AuditEntry) -> None:
    raise AuditLogImmutableError(f"audit entry {target.id} cannot be deleted")
