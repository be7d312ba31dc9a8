"""Request dependencies: the store session, the read model, the caller, and scope checks.

Access is decided here and only here: every route that names a brand or a provider takes
``BrandInScope`` / ``ProviderInScope``, every write a role requirement, every list the
caller's scope. Outside-scope objects are answered exactly like absent ones (404).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from windmaker.api.errors import ApiError, not_found
from windmaker.config import Settings
from windmaker.services.identity import Principal, Role
from windmaker.services.jobs import Jobs
from windmaker.services.users import LoginThrottle
from windmaker.store import tokens
from windmaker.store.models import now
from windmaker.store.session import open_session, session_factory
from windmaker.store.users import User, brands_in_scope, identity_versions
from windmaker.views import ReadModel
from windmaker.web import security

COOKIE = "wm_session"


class PrincipalCache:
    """A short-lived memory of which principal a token stands for.

    Checking a token against the store costs a pooled connection and three queries per
    request; under 32 concurrent clients that checkout was the queue every request stood in.
    A token's principal is therefore remembered for ``seconds`` (the workspace setting
    ``principal_cache_seconds``; 0 switches it off), and never past the token's own expiry.

    What could make a remembered principal wrong is forgotten at once in this process, for that
    user only: each entry carries its user's counter in ``store.users.identity_versions`` read
    before the store was, and the store bumps the counter after committing a deactivation, a
    deletion, a new password or a new portfolio. A logout forgets its token. A change made by
    another process (the CLI) revokes the user's tokens in the store at once and is seen here
    within ``seconds``.

    Keys are the tokens' SHA-256 digests, as in the store, never the tokens themselves.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[float, Principal, datetime, int]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[Principal, datetime] | None:
        """The remembered principal and token expiry, when still fresh and its user unchanged."""
        if self.seconds <= 0:
            return None
        entry = self._entries.get(tokens.digest(token))
        if entry is None or entry[0] <= time.monotonic():
            return None
        if identity_versions.of(entry[1].user_id) != entry[3]:
            return None
        return entry[1], entry[2]

    def put(
        self, token: str, principal: Principal, expires_at: datetime, version: int | None = None
    ) -> None:
        """Remember ``principal``; ``version`` is its user's counter read before the store was
        (the current one when None), so a change committed meanwhile is not remembered."""
        if self.seconds <= 0:
            return
        if version is None:
            version = identity_versions.of(principal.user_id)
        with self._lock:
            if len(self._entries) > 10_000:  # bound memory: drop what has gone stale
                clock = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[0] > clock}
            self._entries[tokens.digest(token)] = (
                time.monotonic() + self.seconds,
                principal,
                expires_at,
                version,
            )

    def forget(self, token: str) -> None:
        with self._lock:
            self._entries.pop(tokens.digest(token), None)

    def clear(self) -> None:
        with self._lock:
            self._entries = {}


@dataclass
class AppState:
    """What the app holds for its lifetime."""

    settings: Settings
    engine: Engine
    readmodel: ReadModel
    jobs: Jobs
    warehouse_factory: Callable[[], Any]
    principals: PrincipalCache = field(default_factory=lambda: PrincipalCache(0))
    extra: dict[str, Any] = field(default_factory=dict)
    #: Failed logins per username and client address (the workspace's throttle settings).
    logins: LoginThrottle | None = None

    def __post_init__(self) -> None:
        if self.logins is None:
            self.logins = LoginThrottle.of(self.settings)

    @property
    def throttle(self) -> LoginThrottle:
        assert self.logins is not None  # set in __post_init__
        return self.logins


async def get_state(request: Request) -> AppState:
    # Dependencies that only read memory are async: a sync one costs a threadpool hop.
    state: AppState = request.app.state.windmaker
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    session = session_factory(state.engine)()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def get_readmodel(state: StateDep) -> ReadModel:
    return state.readmodel


ReadModelDep = Annotated[ReadModel, Depends(get_readmodel)]


def client_address(request: Request) -> str | None:
    """The peer address of the request (behind a proxy: what the server was told to trust)."""
    return request.client.host if request.client else None


def token_of(request: Request) -> str | None:
    """The bearer token of the Authorization header, else the web session cookie."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.cookies.get(COOKIE) or None


def principal_for(session: Session, user_id: int) -> Principal | None:
    """The principal of an active user; None when the user is missing or inactive."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    scope = brands_in_scope(session, user=user)
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,  # type: ignore[arg-type]
        brand_scope=None if scope.unrestricted else frozenset(scope.brand_ids),
        provider_id=user.provider_id,
        brand_id=user.brand_id,
    )


def _principal_from_store(
    engine: Engine, token: str
) -> tuple[Principal, datetime, int | None] | None:
    """The token's principal, expiry and the counter its user had before the store was read
    (None: unknown yet); None for an unknown or revoked token, or a missing or inactive user."""
    with open_session(engine) as session:
        found = tokens.resolve_token(session, token=token)
        if found is None:
            return None
        # End the read transaction, so the user is read in a snapshot taken after the counter.
        session.commit()
        version = identity_versions.of(found.user_id)
        principal = principal_for(session, found.user_id)
        if principal is None:
            return None
        return principal, found.expires_at, version


async def authenticate_token(
    state: AppState, token: str | None
) -> Principal | Literal["unauthorized", "token_expired"]:
    """Who ``token`` belongs to, or why it is refused (the API's and the web's one check)."""
    if not token:
        return "unauthorized"
    found = state.principals.get(token)
    if found is None:
        loaded = await run_in_threadpool(_principal_from_store, state.engine, token)
        if loaded is None:
            return "unauthorized"
        principal, expires_at, version = loaded
        state.principals.put(token, principal, expires_at, version)
        found = principal, expires_at
    principal, expires_at = found
    if expires_at <= now():
        return "token_expired"
    return principal


def cookie_write_refused(request: Request) -> bool:
    """A state-changing call authenticated by the session cookie alone, without the session's
    CSRF token in ``X-CSRF-Token`` or from another origin. A browser attaches the cookie to any
    site's request; a bearer token it never attaches, so bearer calls pass."""
    if request.method in security.SAFE_METHODS:
        return False
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return False
    want = security.expected(request, login=False)
    return not (
        security.same_origin(request)
        and security.matches(want, request.headers.get(security.HEADER))
    )


async def current_principal(request: Request, state: StateDep) -> Principal:
    found = await authenticate_token(state, token_of(request))
    if isinstance(found, str):
        raise ApiError(401, found)
    if cookie_write_refused(request):
        raise ApiError(403, "csrf_refused")
    return found


CurrentUser = Annotated[Principal, Depends(current_principal)]


async def brand_in_scope(brand_id: str, user: CurrentUser, rm: ReadModelDep) -> str:
    if not user.sees_brand(brand_id) or rm.brand(brand_id) is None:
        raise not_found()
    return brand_id


BrandInScope = Annotated[str, Depends(brand_in_scope)]


def provider_in_scope(provider_id: str, user: CurrentUser, session: SessionDep) -> str:
    from windmaker.store.models import Provider

    if not user.sees_provider(provider_id) or session.get(Provider, provider_id) is None:
        raise not_found()
    return provider_id


ProviderInScope = Annotated[str, Depends(provider_in_scope)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only ``roles`` (403 for a role that may never do this)."""

    def _check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise ApiError(403, "forbidden")
        return user

    return _check


AdminUser = Annotated[Principal, Depends(require("admin"))]
StaffUser = Annotated[Principal, Depends(require("admin", "operator"))]
