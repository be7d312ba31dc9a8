"""API tokens and web sessions: issued at login, checked on every request, revoked at logout
and, all of a user's at once, when the user is deactivated, deleted or given a new password.

Only a SHA-256 digest of each token is stored, so a copy of the database does not let anyone
sign in; tokens are random (``secrets.token_urlsafe``), so a digest without salt is enough.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import DateTime, ForeignKey, Integer, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from windmaker.store.models import Base, now


class ApiToken(Base):
    """One login: the digest of its token, whose it is, until when, and whether it was revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


@dataclass(frozen=True)
class TokenInfo:
    """What a presented token resolves to."""

    user_id: int
    expires_at: datetime
    expired: bool


def digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, *, user_id: int, ttl: timedelta) -> tuple[str, datetime]:
    """A new token for ``user_id`` valid for ``ttl``; returns the token (shown once) and its expiry."""
    token = secrets.token_urlsafe(32)
    expires = now() + ttl
    session.add(ApiToken(digest=digest(token), user_id=user_id, expires_at=expires))
    session.commit()
    return token, expires


def resolve_token(session: Session, *, token: str) -> TokenInfo | None:
    """The token's user and whether it expired; None when unknown or revoked."""
    row = session.scalars(select(ApiToken).where(ApiToken.digest == digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    return TokenInfo(
        user_id=row.user_id, expires_at=row.expires_at, expired=row.expires_at <= now()
    )


def revoke_token(session: Session, *, token: str) -> bool:
    """Revoke a token (logout); True when it was live."""
    row = session.scalars(select(ApiToken).where(ApiToken.digest == digest(token))).first()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now()
    session.commit()
    return True


def revoke_user_tokens(session: Session, *, user_id: int) -> int:
    """Revoke every live token of ``user_id`` in the caller's transaction (not committed, so
    the change that calls for it lands with it); returns how many were live."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def delete_user_tokens(session: Session, *, user_id: int) -> None:
    """Remove every token row of ``user_id`` (before the user is deleted), uncommitted."""
    session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))
