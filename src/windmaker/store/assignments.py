"""Brand–provider assignments (who serves whom, since when) and matching exclusions."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from windmaker.store.audit import append_audit
from windmaker.store.errors import InvalidValueError, NotFoundError
from windmaker.store.models import Assignment, MatchExclusion, Provider


def add_assignment(
    session: Session,
    *,
    provider_id: str,
    brand_id: str,
    started_at: date,
    ended_at: date | None = None,
    source: str = "manual",
    actor: str,
    reason: str = "",
    commit: bool = True,
) -> Assignment:
    """A provider starts serving a brand; audited. Refused while the pair is already active."""
    if session.get(Provider, provider_id) is None:
        raise NotFoundError(f"no provider {provider_id!r}")
    if ended_at is not None and ended_at < started_at:
        raise InvalidValueError(f"assignment ends ({ended_at}) before it starts ({started_at})")
    if ended_at is None:
        active = session.scalars(
            select(Assignment).where(
                Assignment.provider_id == provider_id,
                Assignment.brand_id == brand_id,
                Assignment.ended_at.is_(None),
            )
        ).first()
        if active is not None:
            raise InvalidValueError(
                f"{provider_id} already serves {brand_id} since {active.started_at}"
            )
    row = Assignment(
        provider_id=provider_id,
        brand_id=brand_id,
        started_at=started_at,
        ended_at=ended_at,
        source=source,
    )
    session.add(row)
    session.flush()
    append_audit(
        session,
        actor=actor,
        action="assignment.started",
        subject_type="assignment",
        subject_id=str(row.id),
        reason=reason,
        detail={"provider_id": provider_id, "brand_id": brand_id, "source": source},
    )
    if commit:
        session.commit()
    return row


def end_assignment(
    session: Session, *, assignment_id: int, ended_at: date, actor: str, reason: str
) -> Assignment:
    """Close an assignment on ``ended_at``; audited."""
    row = session.get(Assignment, assignment_id)
    if row is None:
        raise NotFoundError(f"no assignment {assignment_id}")
    if row.ended_at is not None:
        raise InvalidValueError(f"assignment {assignment_id} already ended on {row.ended_at}")
    if ended_at < row.started_at:
        raise InvalidValueError(f"assignment ends ({ended_at}) before it starts ({row.started_at})")
    row.ended_at = ended_at
    append_audit(
        session,
        actor=actor,
        action="assignment.ended",
        subject_type="assignment",
        subject_id=str(row.id),
        reason=reason,
        detail={"provider_id": row.provider_id, "brand_id": row.brand_id},
    )
    session.commit()
    return row


def list_assignments(
    session: Session,
    *,
    provider_id: str | None = None,
    brand_id: str | None = None,
    active_on: date | None = None,
) -> list[Assignment]:
    """Assignments, optionally of one provider or brand, or active on a day."""
    stmt = select(Assignment).order_by(Assignment.id)
    if provider_id is not None:
        stmt = stmt.where(Assignment.provider_id == provider_id)
    if brand_id is not None:
        stmt = stmt.where(Assignment.brand_id == brand_id)
    if active_on is not None:
        stmt = stmt.where(
            Assignment.started_at <= active_on,
            or_(Assignment.ended_at.is_(None), Assignment.ended_at >= active_on),
        )
    return list(session.scalars(stmt))


def add_exclusion(
    session: Session, *, brand_id: str, provider_id: str, reason: str, actor: str
) -> MatchExclusion:
    """Never propose ``provider_id`` for ``brand_id`` in matching; audited."""
    if session.get(Provider, provider_id) is None:
        raise NotFoundError(f"no provider {provider_id!r}")
    row = session.get(MatchExclusion, (brand_id, provider_id))
    if row is None:
        row = MatchExclusion(brand_id=brand_id, provider_id=provider_id, reason=reason)
        session.add(row)
    append_audit(
        session,
        actor=actor,
        action="exclusion.added",
        subject_type="provider",
        subject_id=provider_id,
        reason=reason,
        detail={"brand_id": brand_id},
    )
    session.commit()
    return row


def list_exclusions(session: Session) -> list[MatchExclusion]:
    return list(
        session.scalars(
            select(MatchExclusion).order_by(MatchExclusion.brand_id, MatchExclusion.provider_id)
        )
    )
