"""What every page shares: the templates, the page language, the signed-in user, rendering and
the not-found and error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from windmaker import contract
from windmaker.api.deps import (
    StateDep,
    authenticate_token,
    token_of,
)
from windmaker.i18n import LANGS, explain_bottleneck, name, negotiate, reason_text, signals_text, t
from windmaker.numbers import Formatter
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal
from windmaker.web import security

HERE = Path(__file__).parents[1]
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["explain_bottleneck"] = explain_bottleneck
templates.env.globals["signals_text"] = signals_text
templates.env.globals["reason_text"] = reason_text
templates.env.globals["name"] = name
LANG_COOKIE = "wm_lang"


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to the login page."""


class PageNotFound(Exception):
    """Raised for absent and out-of-scope objects; rendered as the not-found page."""


def page_lang(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGS:
        return chosen
    return negotiate(request.headers.get("accept-language"))


async def web_user(request: Request, state: StateDep) -> Principal:
    found = await authenticate_token(state, token_of(request))
    if isinstance(found, str):
        raise LoginRequired
    return found


WebUser = Annotated[Principal, Depends(web_user)]


def render(
    request: Request, template: str, user: Principal | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    lang = page_lang(request)

    def tr(key: str, **values: object) -> str:
        return t(key, lang, **values)

    def static(path: str) -> str:
        return f"/static/{path}"

    csrf, fresh = security.page_token(request, login=template == "login.html")
    response = templates.TemplateResponse(
        request,
        template,
        {"t": tr, "fmt": Formatter(lang), "lang": lang, "user": user, "static": static}
        | {"contract": contract}
        | {"csrf_token": csrf, **context},
        status_code=status_code,
    )
    if fresh:
        security.set_presession_cookie(response, request, fresh)
    return response


def not_found_page(request: Request, user: Principal | None) -> HTMLResponse:
    return render(request, "not_found.html", user, status_code=404)


def error_page(request: Request, user: Principal, exc: Exception) -> HTMLResponse:
    """A form's refusal as a page: the API error's own text, or the invalid fields (422).

    An API 404 stays a not-found page, so a form never tells more than the API would.
    """

    lang = page_lang(request)
    if isinstance(exc, ServiceError):
        if exc.status == 404:
            raise PageNotFound
        values = {k: str(v) for k, v in exc.values.items()}
        title = t(f"error.{exc.code}", lang, **values)
        return render(
            request, "message.html", user, status_code=exc.status, title=title, message=""
        )
    return render(
        request,
        "message.html",
        user,
        status_code=422,
        title=t("error.validation", lang),
        message=str(exc),
    )
