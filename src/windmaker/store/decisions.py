"""Decisions about providers: proposed by the system, confirmed or overridden by a person.

Admission decisions come from applications (``windmaker.store.applications``); warnings and
exits from evaluations. Confirming changes the provider's status, and both the proposal and the
confirmation are written to the audit log in the same transaction as the change.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from windmaker.i18n import reason_text
from windmaker.store.audit import append_audit
from windmaker.store.errors import AlreadyDecidedError, InvalidValueError, NotFoundError
from windmaker.store.models import DECISION_KINDS, Decision, Provider, now
from windmaker.warehouse import faults

#: What a reviewer may answer to each kind of proposal.
OUTCOMES: dict[str, tuple[str, ...]] = {
    "admission": ("admitted", "probation", "rejected"),
    "warning": ("warned", "dismissed"),
    "exit": ("exited", "dismissed"),
}


def propose_decision(
    session: Session,
    *,
    provider_id: str,
    kind: str,
    proposed_outcome: str,
    reasons: list[dict[str, Any]],
    period: date | None = None,
    application_id: int | None = None,
    actor: str = "system",
    commit: bool = True,
) -> Decision:
    """Record a proposal awaiting a person; an open one of the same kind is returned, not duplicated."""
    if kind not in DECISION_KINDS:
        raise InvalidValueError(
            f"unknown decision kind {kind!r}; one of {', '.join(DECISION_KINDS)}"
        )
    if proposed_outcome not in OUTCOMES[kind]:
        raise InvalidValueError(
            f"{kind} cannot propose {proposed_outcome!r}; one of {', '.join(OUTCOMES[kind])}"
        )
    if session.get(Provider, provider_id) is None:
        raise NotFoundError(f"no provider {provider_id!r}")
    # One open proposal per provider and kind (per application for admissions): a warning
    # proposed last month and not yet confirmed is not proposed again.
    same = select(Decision).where(
        Decision.provider_id == provider_id,
        Decision.kind == kind,
        Decision.status == "proposed",
    )
    if application_id is not None:
        same = same.where(Decision.application_id == application_id)
    existing = session.scalars(same).first()
    if existing is not None:
        return existing
    decision = Decision(
        provider_id=provider_id,
        application_id=application_id,
        kind=kind,
        period=period,
        proposed_outcome=proposed_outcome,
        reasons=reasons,
        proposed_at=now(),
        status="proposed",
    )
    session.add(decision)
    session.flush()
    append_audit(
        session,
        actor=actor,
        action=f"decision.proposed.{kind}",
        subject_type="provider",
        subject_id=provider_id,
        reason="; ".join(
            reason_text(r["code"], r.get("params"), "en") if r.get("code") else str(r["message"])
            for r in reasons
            if r.get("code") or r.get("message")
        ),
        detail={"decision_id": decision.id, "proposed_outcome": proposed_outcome},
    )
    if commit:
        session.commit()
    return decision


def get_decision(session: Session, *, decision_id: int) -> Decision:
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise NotFoundError(f"no decision {decision_id}")
    return decision


def list_decisions(
    session: Session,
    *,
    status: str | None = None,
    provider_id: str | None = None,
    kind: str | None = None,
) -> list[Decision]:
    """Decisions, newest first, filtered by status, provider and kind."""
    stmt = select(Decision).order_by(Decision.id.desc())
    if status is not None:
        stmt = stmt.where(Decision.status == status)
    if provider_id is not None:
        stmt = stmt.where(Decision.provider_id == provider_id)
    if kind is not None:
        stmt = stmt.where(Decision.kind == kind)
    return list(session.scalars(stmt))


def _already(decision: Decision) -> AlreadyDecidedError:
    return AlreadyDecidedError(
        f"decision {decision.id} ({decision.kind} of {decision.provider_id}) was already "
        f"decided: {decision.outcome} by {decision.reviewer} at {decision.decided_at}"
    )


def settle(session: Session, *, decision: Decision, outcome: str, reviewer: str, note: str) -> None:
    """Mark ``decision`` decided by ``reviewer`` and apply it to the provider (not committed)."""
    if outcome not in OUTCOMES[decision.kind]:
        raise InvalidValueError(
            f"a {decision.kind} decision is one of {', '.join(OUTCOMES[decision.kind])}, "
            f"not {outcome!r}"
        )
    if decision.status != "proposed":
        raise _already(decision)
    decision.status = "confirmed" if outcome == decision.proposed_outcome else "overridden"
    decision.outcome = outcome
    decision.reviewer = reviewer
    decision.note = note
    decision.decided_at = now()
    if outcome != "dismissed":
        provider = session.get(Provider, decision.provider_id)
        assert provider is not None
        provider.status = outcome
    append_audit(
        session,
        actor=reviewer,
        action=f"decision.{decision.status}.{decision.kind}",
        subject_type="provider",
        subject_id=decision.provider_id,
        reason=note,
        detail={
            "decision_id": decision.id,
            "proposed_outcome": decision.proposed_outcome,
            "outcome": outcome,
        },
    )
    # test-only: the fault tests kill the process here, the change and its audit line sent
    # to the database but not committed
    faults.reach("decision", prepare=session.flush)


def confirm_decision(
    session: Session,
    *,
    decision_id: int,
    reviewer: str,
    note: str,
    outcome: str | None = None,
) -> Decision:
    """A person confirms (or overrides with ``outcome``) a proposed warning or exit; audited.

    Two reviewers at once: the first wins, the second gets :class:`AlreadyDecidedError`.
    """
    decision = get_decision(session, decision_id=decision_id)
    if decision.kind == "admission":
        raise InvalidValueError("admission decisions are taken on the application (decide)")
    try:
        settle(
            session,
            decision=decision,
            outcome=outcome or decision.proposed_outcome,
            reviewer=reviewer,
            note=note,
        )
        session.commit()
    except StaleDataError:
        session.rollback()
        session.expire_all()
        raise _already(get_decision(session, decision_id=decision_id)) from None
    return decision
