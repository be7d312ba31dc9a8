"""Admission (准入): filing an application, the review queue and an admin's decision.

Who may (re-)apply is decided here, once (see :mod:`windmaker.services.providers`).
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.ecosystem.admission import ProviderApplication, score_application
from windmaker.services.configs import Configs
from windmaker.services.errors import conflict, forbidden, invalid, not_found
from windmaker.services.identity import Principal
from windmaker.services.providers.records import (
    MAY_APPLY,
    ApplicationRecord,
    ApplicationReview,
    DecisionRecord,
)
from windmaker.services.providers.registry import require_admin, stored_provider
from windmaker.store.models import Application


def _application_in_scope(session: Session, user: Principal, application_id: int) -> Application:
    """An application ``user`` may see: a provider sees its own, a brand none (else not found)."""
    try:
        app = store.get_application(session, application_id=application_id)
    except store.NotFoundError as exc:
        raise not_found(str(exc)) from None
    if user.role == "brand" or (user.role == "provider" and app.provider_id != user.provider_id):
        raise not_found(f"no application {application_id}")
    return app


_PROVIDER_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def _check_application(a: ProviderApplication) -> None:
    """The limits every surface holds an application to (the API's schema documents them)."""
    if not _PROVIDER_ID.match(a.provider_id):
        raise invalid("provider_id", "1-64 letters, digits, '_', '.' or '-'")
    if not 1 <= len(a.name) <= 200:
        raise invalid("name", "1-200 characters")
    if not a.capabilities:
        raise invalid("capabilities", "at least one capability")
    if not a.categories:
        raise invalid("categories", "at least one category")
    for field_name in ("team_size", "capacity", "gmv_served_12m"):
        if getattr(a, field_name) < 0:
            raise invalid(field_name, "must not be negative")


def apply(
    session: Session, configs: Configs, user: Principal, application: ProviderApplication
) -> ApplicationReview:
    """File an admission application (准入申请): score it against the written standard of its
    kind, record the provider's declared profile and queue the proposal for review."""
    if user.role not in ("admin", "provider"):
        raise forbidden()
    _check_application(application)
    if user.role == "provider" and application.provider_id != user.provider_id:
        raise not_found(f"{application.provider_id} is not {user.username}'s provider")
    existing = stored_provider(session, application.provider_id)
    if existing is not None and existing.status not in MAY_APPLY and user.role != "admin":
        raise conflict(f"{application.provider_id} is already {existing.status}")
    result = score_application(application, configs.ecosystem.admission)
    try:
        store.upsert_provider(
            session,
            provider_id=application.provider_id,
            name=application.name,
            kind=application.kind,
            capabilities=application.capabilities,
            categories=application.categories,
            capacity=application.capacity,
            team_size=application.team_size,
            gmv_served_12m=application.gmv_served_12m,
            founded_at=application.founded_at,
            actor=user.username,
            reason="admission application",
            commit=False,
        )
        row = store.submit_application(
            session,
            provider_id=application.provider_id,
            qualifications=application.to_dict(),
            proposed_outcome=result.outcome,
            reasons=result.reasons,
            actor=user.username,
        )
    except store.InvalidValueError as exc:
        session.rollback()
        raise invalid("application", str(exc)) from None
    proposal = store.admission_proposal(session, application_id=row.id)
    return ApplicationReview(
        ApplicationRecord.of(row),
        DecisionRecord.of(proposal),
        tuple(c.criterion for c in result.criteria if c.outcome != "admitted"),
    )


def application(session: Session, user: Principal, application_id: int) -> ApplicationReview:
    """One application in ``user``'s scope with the system's proposal."""
    app = _application_in_scope(session, user, application_id)
    proposal = store.admission_proposal(session, application_id=app.id)
    return ApplicationReview(ApplicationRecord.of(app), DecisionRecord.of(proposal))


def applications(session: Session, user: Principal) -> list[ApplicationReview]:
    """The review queue (待审核) in ``user``'s scope: pending applications with the proposal."""
    if user.role == "brand":
        return []
    return [
        ApplicationReview(ApplicationRecord.of(a), DecisionRecord.of(d))
        for a, d in store.review_queue(session)
        if user.role != "provider" or a.provider_id == user.provider_id
    ]


def provider_applications(
    session: Session, user: Principal, provider_id: str
) -> list[ApplicationReview]:
    """Every application of ``provider_id`` (pending and decided), newest first, with its
    proposal and decision: a provider reads its own, admins and operators any (else none)."""
    if user.role == "brand" or (user.role == "provider" and provider_id != user.provider_id):
        return []
    rows = session.scalars(
        select(Application)
        .where(Application.provider_id == provider_id)
        .order_by(Application.id.desc())
    )
    return [
        ApplicationReview(
            ApplicationRecord.of(a),
            DecisionRecord.of(store.admission_proposal(session, application_id=a.id)),
        )
        for a in rows
    ]


def decide(
    session: Session, user: Principal, application_id: int, *, decision: str, note: str = ""
) -> DecisionRecord:
    """An admin decides an application (准入决定): admitted, probation or rejected; recorded
    with the reviewer and the note."""
    require_admin(user)
    _application_in_scope(session, user, application_id)
    try:
        taken = store.decide_application(
            session,
            application_id=application_id,
            decision=decision,
            reviewer=user.username,
            note=note,
        )
    except store.AlreadyDecidedError as exc:
        raise conflict(str(exc)) from None
    except store.InvalidValueError as exc:
        raise invalid("decision", str(exc)) from None
    return DecisionRecord.of(taken)
