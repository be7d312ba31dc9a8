"""Request dependencies: the store session, the read model, the caller, and scope checks.

Access is decided here and only here: every route that names a brand or a provider takes
``BrandInScope`` / ``ProviderInScope``, every write a role requirement, every list the
caller's scope. Outside-scope objects are answered exactly like absent ones (404).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from windmaker.api.errors import ApiError, not_found
from windmaker.api.jobs import Jobs
from windmaker.api.readmodel import ReadModel
from windmaker.api.security import Principal, Role
from windmaker.config import Settings
from windmaker.store import tokens
from windmaker.store.session import session_factory
from windmaker.store.users import brands_in_scope, get_user

COOKIE = "wm_session"


@dataclass
class AppState:
    """What the app holds for its lifetime."""

    settings: Settings
    engine: Engine
    readmodel: ReadModel
    jobs: Jobs
    warehouse_factory: Callable[[], Any]
    extra: dict[str, Any] = field(default_factory=dict)


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


def token_of(request: Request) -> str | None:
    """The bearer token of the Authorization header, else the web session cookie."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.cookies.get(COOKIE) or None


def principal_for(session: Session, user_id: int) -> Principal:
    user = get_user(session, user_id=user_id)
    scope = brands_in_scope(session, user=user)
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,  # type: ignore[arg-type]
        brand_scope=None if scope.unrestricted else frozenset(scope.brand_ids),
        provider_id=user.provider_id,
        brand_id=user.brand_id,
    )


def current_principal(request: Request, session: SessionDep) -> Principal:
    token = token_of(request)
    if not token:
        raise ApiError(401, "unauthorized")
    found = tokens.resolve_token(session, token=token)
    if found is None:
        raise ApiError(401, "unauthorized")
    if found.expired:
        raise ApiError(401, "token_expired")
    return principal_for(session, found.user_id)


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
