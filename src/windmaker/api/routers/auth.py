"""Login, logout and who-am-I."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from windmaker.api.deps import COOKIE, CurrentUser, SessionDep, StateDep, token_of
from windmaker.api.errors import ERROR_RESPONSES, responses
from windmaker.api.schemas import LoginRequest, TokenPublic, UserPublic
from windmaker.services import users

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post(
    "/login",
    response_model=TokenPublic,
    summary="Exchange credentials for a bearer token",
    responses=responses(400),
)
def login(
    body: LoginRequest, session: SessionDep, state: StateDep, response: Response
) -> TokenPublic:
    issued = users.login(
        session,
        username=body.username,
        password=body.password,
        ttl=timedelta(minutes=state.settings.token_ttl_minutes),
    )
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
