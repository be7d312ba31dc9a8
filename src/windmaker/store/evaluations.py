"""Evaluations of providers, one per provider and period (a month)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from windmaker.store.audit import append_audit
from windmaker.store.models import Evaluation
from windmaker.store.providers import list_providers


def record_evaluation(
    session: Session,
    *,
    provider_id: str,
    period: date,
    metrics: dict[str, Any],
    gmv_served: Decimal | int | str,
    score: float,
    meets_standard: bool,
    severe_violation: bool,
    reasons: list[dict[str, Any]],
    actor: str = "system",
    commit: bool = True,
) -> Evaluation:
    """Store a provider's evaluation of ``period``; re-running a period revises it (audited)."""
    row = session.scalars(
        select(Evaluation).where(Evaluation.provider_id == provider_id, Evaluation.period == period)
    ).first()
    revised = row is not None
    if row is None:
        row = Evaluation(provider_id=provider_id, period=period)
        session.add(row)
    row.metrics = metrics
    row.gmv_served = Decimal(str(gmv_served)).quantize(Decimal("0.01"))
    row.score = float(score)
    row.meets_standard = bool(meets_standard)
    row.severe_violation = bool(severe_violation)
    row.reasons = reasons
    append_audit(
        session,
        actor=actor,
        action="evaluation.revised" if revised else "evaluation.recorded",
        subject_type="provider",
        subject_id=provider_id,
        reason="meets the standard" if meets_standard else "below the standard",
        detail={"period": period.isoformat(), "score": round(float(score), 4)},
    )
    if commit:
        session.commit()
    return row


def list_evaluations(
    session: Session, *, provider_id: str | None = None, period: date | None = None
) -> list[Evaluation]:
    """Evaluations ordered by provider and period."""
    stmt = select(Evaluation).order_by(Evaluation.provider_id, Evaluation.period)
    if provider_id is not None:
        stmt = stmt.where(Evaluation.provider_id == provider_id)
    if period is not None:
        stmt = stmt.where(Evaluation.period == period)
    return list(session.scalars(stmt))


#: Provider statuses that count toward the windmaker-plan tiers.
ACTIVE_STATUSES = ("admitted", "probation", "warned")


def annual_gmv_served(
    session: Session, *, period: date | None = None
) -> tuple[dict[str, Decimal], str]:
    """Each active provider's annual GMV served, and where the figures come from.

    From the evaluations of ``period`` (default: the latest evaluated month), which compute the
    trailing twelve months of client brands' net GMV while served; before any evaluation, the
    GMV each provider declared when it applied.
    """
    evals = list_evaluations(session)
    month = period or max((e.period for e in evals), default=None)
    gmv = {
        e.provider_id: Decimal(str(e.metrics.get("annual_gmv_served", "0")))
        for e in evals
        if e.period == month
    }
    if gmv and month is not None:
        return gmv, f"evaluations of {month:%Y-%m}"
    declared = {
        p.provider_id: p.gmv_served_12m for p in list_providers(session, statuses=ACTIVE_STATUSES)
    }
    return declared, "declared gmv_served_12m"
