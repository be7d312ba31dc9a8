"""Users: who may log in, with which role and scope; logging in and out; the demo users.

Creating, deactivating and deleting users and setting portfolios is an admin's act (the CLI
acts as the workspace's admin); logging in answers the same refusal for an unknown user, a
wrong password and an inactive user, and is throttled per username and per client address
(:class:`LoginThrottle`) before any password is hashed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from windmaker import store
from windmaker.config import Settings
from windmaker.results import PORTFOLIO
from windmaker.services.errors import ServiceError, forbidden, invalid, not_found
from windmaker.services.identity import Principal
from windmaker.store.models import User
from windmaker.store.tokens import issue_token, revoke_token
from windmaker.store.users import delete_user
from windmaker.store.users import set_active as store_set_active
from windmaker.warehouse import Warehouse

#: The password of every demo user unless another is given.
DEMO_PASSWORD = "windmaker-demo"
#: Provider statuses that may stand for the demo provider user (it needs current clients).
_DEMO_PROVIDER_STATUSES = ("admitted", "probation", "warned")


@dataclass(frozen=True)
class UserRecord:
    """A user as the use cases return it (never the password hash)."""

    username: str
    role: str
    provider_id: str | None
    brand_id: str | None
    active: bool

    @classmethod
    def of(cls, u: User) -> UserRecord:
        return cls(u.username, u.role, u.provider_id, u.brand_id, bool(u.active))


@dataclass(frozen=True)
class DemoUser:
    """One demo user with its password and what it sees: ``provider_id`` (a provider user),
    ``brand_id`` (a brand user), ``portfolio`` (an operator's brands). ``refused`` says why it
    was not created (a user of that name exists already, say); None when it was."""

    username: str
    password: str
    role: str
    provider_id: str | None = None
    brand_id: str | None = None
    portfolio: tuple[str, ...] = ()
    refused: str | None = None


@dataclass(frozen=True)
class LoginToken:
    """A bearer token and when it expires."""

    token: str
    expires_at: datetime


def _require_admin(actor: Principal) -> None:
    if actor.role != "admin":
        raise forbidden()


def create(
    session: Session,
    actor: Principal,
    *,
    username: str,
    password: str,
    role: str,
    provider_id: str | None = None,
    brand_id: str | None = None,
    portfolio: Iterable[str] = (),
) -> UserRecord:
    """A new user; provider users need an existing provider, brand users a brand, and an
    operator may be given a ``portfolio`` of brands at once. Admins only."""
    _require_admin(actor)
    try:
        user = store.create_user(
            session,
            username=username,
            password=password,
            role=role,
            actor=actor.username,
            provider_id=provider_id,
            brand_id=brand_id,
        )
        brands = [b for b in portfolio if b]
        if brands:
            store.set_portfolio(
                session, username=user.username, brand_ids=brands, actor=actor.username
            )
    except store.InvalidValueError as exc:
        session.rollback()
        raise invalid("user", str(exc)) from None
    return UserRecord.of(user)


def list_users(session: Session, actor: Principal) -> list[UserRecord]:
    """Every user with their role. Admins only."""
    _require_admin(actor)
    return [UserRecord.of(u) for u in store.list_users(session)]


def set_portfolio(
    session: Session, actor: Principal, *, username: str, brand_ids: Iterable[str]
) -> list[str]:
    """Replace an operator's portfolio (the brands they answer for). Admins only."""
    _require_admin(actor)
    try:
        return store.set_portfolio(
            session, username=username, brand_ids=brand_ids, actor=actor.username
        )
    except store.NotFoundError as exc:
        raise not_found(str(exc)) from None
    except store.InvalidValueError as exc:
        raise invalid("username", str(exc)) from None


def set_active(session: Session, actor: Principal, *, username: str, active: bool) -> UserRecord:
    """Activate or deactivate a user. Deactivation revokes every token of theirs at once (web
    sessions included) and their next request is refused. Admins only."""
    _require_admin(actor)
    try:
        return UserRecord.of(
            store_set_active(session, username=username, active=active, actor=actor.username)
        )
    except store.NotFoundError as exc:
        raise not_found(str(exc)) from None


def delete(session: Session, actor: Principal, *, username: str) -> None:
    """Delete a user, their tokens and portfolio (the audit log keeps their name). Admins
    only, and never oneself: the last way in would go with it."""
    _require_admin(actor)
    if actor.username == username:
        raise invalid("username", "you cannot delete yourself")
    try:
        delete_user(session, username=username, actor=actor.username)
    except store.NotFoundError as exc:
        raise not_found(str(exc)) from None


def change_password(
    session: Session, actor: Principal, *, username: str, password: str
) -> UserRecord:
    """Set a user's password: an admin for anyone, every user for themselves. Every token the
    user holds is revoked (they log in again with the new password)."""
    if actor.role != "admin" and actor.username != username:
        raise forbidden()
    try:
        return UserRecord.of(
            store.set_password(session, username=username, password=password, actor=actor.username)
        )
    except store.NotFoundError as exc:
        raise not_found(str(exc)) from None


class LoginThrottle:
    """Failed logins remembered per username and per client address, with exponential backoff.

    Each key (``user:NAME``, ``addr:HOST``) has ``free`` failures; the failure that reaches the
    limit locks the key for ``first`` seconds, and every further one doubles the lockout, up to
    ``longest`` (Django-axes and OWASP ASVS 2.2.1 in spirit). A key's failures are forgotten
    after ``4 × longest`` without one, and a success clears its username (never its address,
    so one valid account does not reset an address that sprays others). The memory is this
    process's: several server processes each throttle on their own.
    """

    def __init__(
        self,
        *,
        free_per_user: int = 5,
        free_per_address: int = 20,
        first: float = 1.0,
        longest: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = {"user": free_per_user, "addr": free_per_address}
        self.first, self.longest, self.clock = first, longest, clock
        #: key → (failures, last failure, locked until)
        self._keys: dict[str, tuple[int, float, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: Settings) -> LoginThrottle:
        """The throttle the workspace's settings describe."""
        return cls(
            free_per_user=settings.login_free_failures,
            free_per_address=settings.login_free_failures_per_address,
            first=settings.login_lockout_seconds,
            longest=settings.login_lockout_max_seconds,
        )

    @staticmethod
    def _names(username: str, address: str | None) -> list[str]:
        return [f"user:{username}"] + ([f"addr:{address}"] if address else [])

    def _live(self, key: str, clock: float) -> tuple[int, float, float] | None:
        entry = self._keys.get(key)
        if entry is not None and clock - entry[1] > 4 * self.longest:
            self._keys.pop(key, None)
            return None
        return entry

    def retry_after(self, username: str, address: str | None) -> int:
        """Whole seconds until this username and address may try again (0: now)."""
        clock = self.clock()
        with self._lock:
            waits = [
                entry[2] - clock
                for key in self._names(username, address)
                if (entry := self._live(key, clock)) is not None
            ]
        wait = max(waits, default=0.0)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, username: str, address: str | None) -> None:
        """Count one failed login against the username and the address."""
        clock = self.clock()
        with self._lock:
            if len(self._keys) > 100_000:  # bound memory: drop keys already forgotten
                self._keys = {
                    k: v for k, v in self._keys.items() if clock - v[1] <= 4 * self.longest
                }
            for key in self._names(username, address):
                count = (entry[0] if (entry := self._live(key, clock)) else 0) + 1
                free = self.free[key.split(":", 1)[0]]
                until = clock
                if count >= free:
                    until += min(self.first * 2 ** (count - free), self.longest)
                self._keys[key] = (count, clock, until)

    def succeeded(self, username: str) -> None:
        """A successful login clears the username's failures."""
        with self._lock:
            self._keys.pop(f"user:{username}", None)


def login(
    session: Session,
    *,
    username: str,
    password: str,
    ttl: timedelta,
    throttle: LoginThrottle | None = None,
    address: str | None = None,
) -> LoginToken:
    """A bearer token for these credentials, valid for ``ttl``.

    With a ``throttle``, a username or client ``address`` locked out after failed logins is
    refused with 429 (``retry_after`` seconds) before the password is hashed.
    """
    if throttle is not None:
        wait = throttle.retry_after(username, address)
        if wait:
            raise ServiceError("too_many_attempts", 429, retry_after=wait)
    user = store.authenticate(session, username=username, password=password)
    if user is None:
        if throttle is not None:
            throttle.failed(username, address)
        raise ServiceError("bad_credentials", 401)
    if throttle is not None:
        throttle.succeeded(username)
    token, expires = issue_token(session, user_id=user.id, ttl=ttl)
    return LoginToken(token, expires)


def logout(session: Session, *, token: str) -> None:
    """Revoke ``token`` (a token already revoked or unknown is no error)."""
    revoke_token(session, token=token)


def create_demo_users(
    session: Session,
    wh: Warehouse,
    actor: Principal,
    *,
    password: str = DEMO_PASSWORD,
    portfolio_size: int = 200,
) -> list[DemoUser]:
    """One user per role on a diagnosed market (演示账号), named after the role: ``admin``;
    ``operator``, whose portfolio is the ``portfolio_size`` brands that need attention first in
    the latest period; ``provider``, for the first evaluated provider with clients (none when
    no provider has any); ``brand``, that provider's first client (else the brand first in
    line). Users that exist already are kept, and say so in ``refused``. Admins only."""
    _require_admin(actor)
    if not wh.has_table(PORTFOLIO):
        raise ServiceError(
            "no_data", 409, reason=f"the warehouse has no {PORTFOLIO}: run `windmaker run` first"
        )
    ranked = wh.execute(wh.table(PORTFOLIO).order_by(["period", "priority"]))
    latest = ranked[ranked["period"] == ranked["period"].max()]
    evaluated = store.list_providers(session, statuses=_DEMO_PROVIDER_STATUSES)
    provider = next(
        (p for p in evaluated if store.list_assignments(session, provider_id=p.provider_id)), None
    )
    client = (
        store.list_assignments(session, provider_id=provider.provider_id)[0].brand_id
        if provider
        else None
    )
    brand = client or str(latest["brand_id"].iloc[0])
    portfolio = tuple(str(b) for b in latest["brand_id"].head(portfolio_size))
    people = [
        DemoUser("admin", password, "admin"),
        DemoUser("operator", password, "operator", portfolio=portfolio),
    ]
    if provider is not None:
        people.append(DemoUser("provider", password, "provider", provider_id=provider.provider_id))
    people.append(DemoUser("brand", password, "brand", brand_id=brand))
    made = []
    for person in people:
        try:
            store.create_user(
                session,
                username=person.username,
                password=password,
                role=person.role,
                actor=actor.username,
                provider_id=person.provider_id,
                brand_id=person.brand_id,
            )
            made.append(person)
        except store.InvalidValueError as exc:
            session.rollback()
            made.append(replace(person, refused=str(exc)))
    set_portfolio(session, actor, username="operator", brand_ids=portfolio)
    return made
