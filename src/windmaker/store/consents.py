"""What the case library may say about a brand: its consent to be named, and the secret that
keys case ids (:mod:`windmaker.growth.cases`)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from windmaker.store.audit import append_audit
from windmaker.store.errors import InvalidValueError
from windmaker.store.models import BrandConsent, CaseKey, now

#: The one row of ``case_keys``.
CASE_KEY_ID = 1


def set_consent(
    session: Session, *, brand_id: str, consented: bool, actor: str, reason: str = ""
) -> BrandConsent:
    """Record whether ``brand_id`` lets its cases name it; audited (``consent.set``) with the
    value before and after, in the same transaction."""
    if not brand_id or len(brand_id) > 64:
        raise InvalidValueError(f"not a brand id: {brand_id!r}")
    row = session.get(BrandConsent, brand_id)
    before = None if row is None else bool(row.consented)
    if row is None:
        row = BrandConsent(brand_id=brand_id)
        session.add(row)
    row.consented = bool(consented)
    row.set_by = actor
    row.set_at = now()
    append_audit(
        session,
        actor=actor,
        action="consent.set",
        subject_type="brand",
        subject_id=brand_id,
        reason=reason,
        detail={"from": before, "to": bool(consented)},
    )
    session.commit()
    return row


def get_consent(session: Session, *, brand_id: str) -> BrandConsent | None:
    """The brand's consent row; None when it never set one (its cases are anonymous)."""
    return session.get(BrandConsent, brand_id)


def consenting_brands(session: Session, *, brand_ids: Iterable[str] | None = None) -> set[str]:
    """The brands (of ``brand_ids``, default all) that consented to be named in cases."""
    stmt = select(BrandConsent.brand_id).where(BrandConsent.consented.is_(True))
    if brand_ids is not None:
        ids = sorted(set(brand_ids))
        if not ids:
            return set()
        stmt = stmt.where(BrandConsent.brand_id.in_(ids))
    return set(session.scalars(stmt))


def case_key(session: Session) -> str:
    """The workspace's case-id secret, made (random, 256 bits) and stored on first use.

    Two processes making it at once both insert row 1: the loser's insert fails and it reads
    the winner's, so every process keys ids with the same secret.
    """
    row = session.get(CaseKey, CASE_KEY_ID)
    if row is not None:
        return row.secret
    session.add(CaseKey(id=CASE_KEY_ID, secret=secrets.token_hex(32), created_at=now()))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
    row = session.get(CaseKey, CASE_KEY_ID)
    assert row is not None  # inserted here or by the process that won the race
    return row.secret
