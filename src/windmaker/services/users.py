"""Users: who may log in, with which role and scope; logging in and out; the demo users.

Creating users and setting portfolios is an admin's act (the CLI acts as the workspace's admin);
logging in answers the same refusal for an unknown user, a wrong password and an inactive user.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from windmaker import store
from windmaker.results import PORTFOLIO
from windmaker.services.errors import ServiceError, forbidden, invalid, not_found
from windmaker.services.identity import Principal
from windmaker.store.models import User
from windmaker.store.tokens import issue_token, revoke_token
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


def change_password(
    session: Session, actor: Principal, *, username: str, password: str
) -> UserRecord:
    """Set a user's password: an admin for anyone, every user for themselves."""
    if actor.role != "admin" and actor.username != username:
        raise forbidden()
    try:
        return UserRecord.of(
            store.set_password(session, username=username, password=password, actor=actor.username)
        )
    except store.NotFoundError as exc:
        raise not_found(str(exc)) from None


def login(session: Session, *, username: str, password: str, ttl: timedelta) -> LoginToken:
    """A bearer token for these credentials, valid for ``ttl``."""
    user = store.authenticate(session, username=username, password=password)
    if user is None:
        raise ServiceError("bad_credentials", 401)
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
