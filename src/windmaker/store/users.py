"""Users, roles and what each may see: the API's authentication and row-level access.

Roles: ``admin`` sees every brand; ``operator`` (小二) sees their portfolio (``user_brands``);
``provider`` sees the brands its provider serves now; ``brand`` sees only itself.
Passwords are stored as argon2id hashes (argon2-cffi), never in clear.

Every change that can narrow what a user's tokens stand for (deactivation, deletion, a new
password, a new portfolio) bumps that user's entry in :data:`identity_versions` once it is
committed, so a server that remembers principals forgets exactly that user's at once.
Deactivation, deletion and a new password also revoke the user's tokens in the same
transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from windmaker.store.audit import append_audit
from windmaker.store.errors import InvalidValueError, NotFoundError
from windmaker.store.models import ROLES, Assignment, Provider, User, UserBrand
from windmaker.store.tokens import delete_user_tokens, revoke_user_tokens

_hasher = PasswordHasher()


class IdentityVersions:
    """A change counter per user id, for this process.

    A remembered principal records its user's counter when it is read from the store and is
    valid only while the counter is unchanged; the store bumps it after committing a change to
    that user. Reading a counter is a dictionary lookup, so a server checks it on every request.
    """

    def __init__(self) -> None:
        self._versions: dict[int, int] = {}
        self._lock = threading.Lock()

    def of(self, user_id: int) -> int:
        return self._versions.get(user_id, 0)

    def bump(self, user_id: int) -> None:
        with self._lock:
            self._versions[user_id] = self._versions.get(user_id, 0) + 1


#: The process's counters: what the server's principal cache checks.
identity_versions = IdentityVersions()


@dataclass(frozen=True)
class BrandScope:
    """The brands a user may see: every brand (``unrestricted``) or exactly ``brand_ids``."""

    unrestricted: bool
    brand_ids: frozenset[str] = frozenset()

    def allows(self, brand_id: str) -> bool:
        return self.unrestricted or brand_id in self.brand_ids

    def filter(self, brand_ids: Iterable[str]) -> list[str]:
        """The given brands this scope allows, in their order."""
        return [b for b in brand_ids if self.allows(b)]


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    actor: str,
    provider_id: str | None = None,
    brand_id: str | None = None,
    display_name: str | None = None,
) -> User:
    """A new user; provider users need ``provider_id``, brand users ``brand_id``; audited."""
    if role not in ROLES:
        raise InvalidValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "provider" and (provider_id is None or session.get(Provider, provider_id) is None):
        raise InvalidValueError("a provider user needs the provider_id of an existing provider")
    if role == "brand" and not brand_id:
        raise InvalidValueError("a brand user needs brand_id")
    if get_user_by_name(session, username=username) is not None:
        raise InvalidValueError(f"username {username!r} is taken")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        provider_id=provider_id if role == "provider" else None,
        brand_id=brand_id if role == "brand" else None,
        display_name=display_name,
        active=True,
    )
    session.add(user)
    session.flush()
    append_audit(
        session,
        actor=actor,
        action="user.created",
        subject_type="user",
        subject_id=username,
        detail={"role": role, "provider_id": provider_id, "brand_id": brand_id},
    )
    session.commit()
    return user


def get_user_by_name(session: Session, *, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def get_user(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def verify_password(*, user: User, password: str) -> bool:
    """Whether ``password`` matches the user's stored hash (constant-time in argon2)."""
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (the same answer for every failure)."""
    user = get_user_by_name(session, username=username)
    if user is None or not user.active:
        _hasher.hash(password)  # spend the same time, so timing does not reveal usernames
        return None
    if not verify_password(user=user, password=password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.commit()
    return user


def set_password(session: Session, *, username: str, password: str, actor: str) -> User:
    """Replace a user's password; audited (without the password)."""
    user = get_user_by_name(session, username=username)
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    user.password_hash = hash_password(password)
    revoked = revoke_user_tokens(session, user_id=user.id)
    append_audit(
        session,
        actor=actor,
        action="user.password_set",
        subject_type="user",
        subject_id=username,
        detail={"tokens_revoked": revoked},
    )
    session.commit()
    identity_versions.bump(user.id)
    return user


def set_active(session: Session, *, username: str, active: bool, actor: str) -> User:
    """Activate or deactivate a user; deactivation revokes every token of theirs. Audited."""
    user = get_user_by_name(session, username=username)
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    user.active = active
    revoked = 0 if active else revoke_user_tokens(session, user_id=user.id)
    append_audit(
        session,
        actor=actor,
        action="user.activated" if active else "user.deactivated",
        subject_type="user",
        subject_id=username,
        detail={"tokens_revoked": revoked},
    )
    session.commit()
    identity_versions.bump(user.id)
    return user


def delete_user(session: Session, *, username: str, actor: str) -> None:
    """Delete a user with their tokens and portfolio; the audit log keeps their name."""
    user = get_user_by_name(session, username=username)
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    user_id, role = user.id, user.role
    delete_user_tokens(session, user_id=user_id)
    session.execute(delete(UserBrand).where(UserBrand.user_id == user_id))
    session.delete(user)
    append_audit(
        session,
        actor=actor,
        action="user.deleted",
        subject_type="user",
        subject_id=username,
        detail={"role": role},
    )
    session.commit()
    identity_versions.bump(user_id)


def set_portfolio(
    session: Session, *, username: str, brand_ids: Iterable[str], actor: str, reason: str = ""
) -> list[str]:
    """Replace an operator's portfolio with ``brand_ids``; audited with what changed."""
    user = get_user_by_name(session, username=username)
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    if user.role != "operator":
        raise InvalidValueError(f"{username} is a {user.role}; only operators have a portfolio")
    new = sorted(set(brand_ids))
    old = sorted(session.scalars(select(UserBrand.brand_id).where(UserBrand.user_id == user.id)))
    session.execute(delete(UserBrand).where(UserBrand.user_id == user.id))
    session.add_all(UserBrand(user_id=user.id, brand_id=b) for b in new)
    append_audit(
        session,
        actor=actor,
        action="user.portfolio_set",
        subject_type="user",
        subject_id=username,
        reason=reason,
        detail={
            "added": sorted(set(new) - set(old)),
            "removed": sorted(set(old) - set(new)),
        },
    )
    session.commit()
    identity_versions.bump(user.id)
    return new


def brands_in_scope(session: Session, *, user: User, on: date | None = None) -> BrandScope:
    """The brands ``user`` may see (row-level access): see the module docstring for the rules."""
    if not user.active:
        return BrandScope(unrestricted=False)
    if user.role == "admin":
        return BrandScope(unrestricted=True)
    if user.role == "brand":
        return BrandScope(unrestricted=False, brand_ids=frozenset({user.brand_id or ""}) - {""})
    if user.role == "operator":
        ids = session.scalars(select(UserBrand.brand_id).where(UserBrand.user_id == user.id))
        return BrandScope(unrestricted=False, brand_ids=frozenset(ids))
    if user.role == "provider" and user.provider_id:
        day = on or date.today()
        ids = session.scalars(
            select(Assignment.brand_id).where(
                Assignment.provider_id == user.provider_id,
                Assignment.started_at <= day,
                or_(Assignment.ended_at.is_(None), Assignment.ended_at >= day),
            )
        )
        return BrandScope(unrestricted=False, brand_ids=frozenset(ids))
    return BrandScope(unrestricted=False)
