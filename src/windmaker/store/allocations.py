"""The windmaker plan's allocations (造风者计划资源分配): proposals stored as the system made them,
and a person's confirmation or rejection, audited in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.exc import StaleDataError

from windmaker.store.audit import append_audit
from windmaker.store.errors import AlreadyDecidedError, InvalidValueError, NotFoundError
from windmaker.store.models import PlanAllocation, now

#: What a person may answer to a proposed allocation.
OUTCOMES = ("confirmed", "rejected")


def save_allocation(
    session: Session,
    *,
    created_by: str,
    budget: dict[str, Any],
    lines: list[dict[str, Any]],
    forecast: dict[str, Any],
    solver: dict[str, Any],
    summary: dict[str, Any],
) -> PlanAllocation:
    """Store a proposal (status ``proposed``) and its audit line (``allocation.proposed`` with
    ``summary`` as its detail), committed together."""
    row = PlanAllocation(
        created_at=now(),
        created_by=created_by,
        status="proposed",
        budget=budget,
        lines=lines,
        forecast=forecast,
        solver=solver,
    )
    session.add(row)
    session.flush()
    append_audit(
        session,
        actor=created_by,
        action="allocation.proposed",
        subject_type="plan_allocation",
        subject_id=str(row.id),
        detail={"allocation_id": row.id, **summary},
    )
    session.commit()
    return row


def get_allocation(session: Session, *, allocation_id: int) -> PlanAllocation:
    row = session.get(PlanAllocation, allocation_id)
    if row is None:
        raise NotFoundError(f"no plan allocation {allocation_id}")
    return row


def list_allocations(
    session: Session, *, status: str | None = None, limit: int | None = None
) -> list[PlanAllocation]:
    """Allocations, newest first, without their lines (read with :func:`get_allocation`)."""
    stmt = (
        select(PlanAllocation)
        .options(defer(PlanAllocation.lines))
        .order_by(PlanAllocation.id.desc())
    )
    if status is not None:
        stmt = stmt.where(PlanAllocation.status == status)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def _already(row: PlanAllocation) -> AlreadyDecidedError:
    return AlreadyDecidedError(
        f"allocation {row.id} was already decided: {row.status} by {row.decided_by} "
        f"at {row.decided_at}"
    )


def decide_allocation(
    session: Session,
    *,
    allocation_id: int,
    outcome: str,
    reviewer: str,
    note: str,
    detail: dict[str, Any],
) -> PlanAllocation:
    """A person confirms or rejects a proposed allocation; the audit line
    (``allocation.<outcome>``, ``detail`` with the lines' totals) is committed with the change.

    Only a proposal can be decided; of two people deciding at once the first wins and the
    second gets :class:`AlreadyDecidedError`.
    """
    if outcome not in OUTCOMES:
        raise InvalidValueError(f"an allocation is {' or '.join(OUTCOMES)}, not {outcome!r}")
    row = get_allocation(session, allocation_id=allocation_id)
    if row.status != "proposed":
        raise _already(row)
    row.status = outcome
    row.decided_by = reviewer
    row.decided_at = now()
    row.note = note
    append_audit(
        session,
        actor=reviewer,
        action=f"allocation.{outcome}",
        subject_type="plan_allocation",
        subject_id=str(row.id),
        reason=note,
        detail={"allocation_id": row.id, "outcome": outcome, **detail},
    )
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        session.expire_all()
        raise _already(get_allocation(session, allocation_id=allocation_id)) from None
    return row
