"""Signing in and out, and the language switch."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from windmaker.api.deps import (
    COOKIE,
    SessionDep,
    StateDep,
    client_address,
    token_of,
)
from windmaker.i18n import LANGS, t
from windmaker.services import users
from windmaker.services.errors import ServiceError
from windmaker.web.pages.common import (
    LANG_COOKIE,
    WebUser,
    page_lang,
    render,
)

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html", None, error=None)


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    state: StateDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    try:
        token = users.login(
            session,
            username=username,
            password=password,
            ttl=timedelta(minutes=state.settings.token_ttl_minutes),
            throttle=state.throttle,
            address=client_address(request),
        ).token
    except ServiceError as exc:
        page = render(
            request,
            "login.html",
            None,
            status_code=exc.status,
            error=t(f"error.{exc.code}", page_lang(request), **exc.values),
        )
        if exc.status == 429:
            page.headers["Retry-After"] = str(exc.values["retry_after"])
        return page
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=state.settings.token_ttl_minutes * 60,
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, state: StateDep) -> RedirectResponse:
    token = token_of(request)
    if token:
        users.logout(session, token=token)
        state.principals.forget(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/") -> RedirectResponse:
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if code in LANGS:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax")
    return response


@router.get("/")
def home(user: WebUser) -> RedirectResponse:
    if user.role == "brand" and user.brand_id:
        return RedirectResponse(f"/brands/{user.brand_id}", status_code=303)
    return RedirectResponse("/workbench", status_code=303)
