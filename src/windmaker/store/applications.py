"""Admission applications (准入申请): submit, the review queue, the reviewer's decision."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from windmaker.store.audit import append_audit
from windmaker.store.decisions import propose_decision, settle
from windmaker.store.errors import AlreadyDecidedError, NotFoundError
from windmaker.store.models import Application, Decision


def submit_application(
    session: Session,
    *,
    provider_id: str,
    qualifications: dict[str, Any],
    proposed_outcome: str,
    reasons: list[dict[str, Any]],
    actor: str,
) -> Application:
    """File an application of an existing provider with the system's scored proposal; audited.

    The provider must exist (``upsert_provider`` first); the proposal comes from
    ``windmaker.ecosystem.admission.score_application``.
    """
    application = Application(provider_id=provider_id, qualifications=qualifications)
    session.add(application)
    session.flush()
    append_audit(
        session,
        actor=actor,
        action="application.submitted",
        subject_type="application",
        subject_id=str(application.id),
        detail={"provider_id": provider_id},
    )
    propose_decision(
        session,
        provider_id=provider_id,
        kind="admission",
        proposed_outcome=proposed_outcome,
        reasons=reasons,
        application_id=application.id,
        commit=False,
    )
    session.commit()
    return application


def get_application(session: Session, *, application_id: int) -> Application:
    application = session.get(Application, application_id)
    if application is None:
        raise NotFoundError(f"no application {application_id}")
    return application


def admission_proposal(session: Session, *, application_id: int) -> Decision:
    """The admission decision (proposal, and outcome once decided) of an application."""
    decision = session.scalars(
        select(Decision)
        .where(Decision.application_id == application_id, Decision.kind == "admission")
        .order_by(Decision.id.desc())
    ).first()
    if decision is None:
        raise NotFoundError(f"application {application_id} has no admission proposal")
    return decision


def review_queue(session: Session) -> list[tuple[Application, Decision]]:
    """Pending applications, oldest first, each with the system's proposal."""
    apps = session.scalars(
        select(Application).where(Application.status == "pending").order_by(Application.id)
    )
    return [(a, admission_proposal(session, application_id=a.id)) for a in apps]


def decide_application(
    session: Session,
    *,
    application_id: int,
    decision: str,
    reviewer: str,
    note: str,
) -> Decision:
    """A reviewer decides an application: admitted, probation or rejected; audited.

    The application row carries an optimistic version: when two reviewers decide the same
    application at once, the first commit wins and the second raises
    :class:`AlreadyDecidedError` naming who decided, without changing anything.
    """
    application = get_application(session, application_id=application_id)
    proposal = admission_proposal(session, application_id=application_id)
    if application.status != "pending":
        raise AlreadyDecidedError(
            f"application {application_id} was already decided: {proposal.outcome} by "
            f"{proposal.reviewer} at {proposal.decided_at}"
        )
    try:
        settle(session, decision=proposal, outcome=decision, reviewer=reviewer, note=note)
        application.status = "decided"
        session.commit()
    except StaleDataError:
        session.rollback()
        session.expire_all()
        winner = admission_proposal(session, application_id=application_id)
        raise AlreadyDecidedError(
            f"application {application_id} was decided by someone else first: "
            f"{winner.outcome} by {winner.reviewer} at {winner.decided_at}; your decision "
            f"({decision}) was not recorded"
        ) from None
    return proposal
