"""Login, logout and who-am-I."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from windmaker.api.deps import COOKIE, CurrentUser, SessionDep, StateDep, client_address, token_of
from windmaker.api.errors import ERROR_RESPONSES, ErrorResponse, error_json, responses
from windmaker.api.schemas import LoginRequest, TokenPublic, UserPublic
from windmaker.services import users
from windmaker.services.errors import ServiceError

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorResponse,
        "description": "Too many failed logins for this username or address; "
        "try again after Retry-After seconds",
        "headers": {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        },
    }
}


@router.post(
    "/login",
    response_model=TokenPublic,
    summary="Exchange credentials for a bearer token",
    responses={**responses(400), **THROTTLED},
)
def login(
    body: LoginRequest, request: Request, session: SessionDep, state: StateDep
) -> TokenPublic | Response:
    try:
        issued = users.login(
            session,
            username=body.username,
            password=body.password,
            ttl=timedelta(minutes=state.settings.token_ttl_minutes),
            throttle=state.throttle,
            address=client_address(request),
        )
    except ServiceError as exc:
        if exc.status != 429:
            raise
        refused = error_json(request, exc.status, exc.code, exc.detail, **exc.values)
        refused.headers["Retry-After"] = str(exc.values["retry_after"])
        return refused
    return TokenPublic(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/logout", status_code=204, summary="Revoke the current token or web session")
def logout(request: Request, user: CurrentUser, session: SessionDep, state: StateDep) -> Response:
    token = token_of(request)
    if token:
        users.logout(session, token=token)
        state.principals.forget(token)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE)
    return response


@router.get(
    "/me", response_model=UserPublic, summary="The logged-in user and the size of their scope"
)
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic(
        username=user.username,
        role=user.role,
        provider_id=user.provider_id,
        brand_id=user.brand_id,
        brands_in_scope=None if user.brand_scope is None else len(user.brand_scope),
    )
