"""What keeps another site from acting through a user's browser: CSRF tokens, the same-origin
check and the Content-Security-Policy.

The CSRF model is Django's. A session's token is an HMAC of its session token under a key
derived from the workspace's ``secret_key``: it changes with every login, cannot be computed
without the session token (an ``HttpOnly`` cookie), and needs no storage. Before a session
exists, the login form is protected the same way by a random pre-session cookie (signed double
submit), so another site cannot log a browser in as the attacker. Every unsafe web request
carries the token, in the form field ``csrf_token`` or the ``X-CSRF-Token`` header (htmx), and
any ``Origin`` or ``Referer`` it sends must be the app's own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

FIELD = "csrf_token"
HEADER = "x-csrf-token"
PRESESSION_COOKIE = "wm_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
LOGIN_PATH = "/login"
#: Routes that parse their own (streamed) form: they check the token once the form is read.
SELF_CHECKED = frozenset({"/data/upload"})

#: No inline script anywhere: scripts come from the app's own static files. Inline styles
#: stay allowed because ECharts' SVG renderer and its tooltips write ``style`` attributes;
#: a style cannot run code.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


class CsrfRefused(Exception):
    """An unsafe web request without a valid token, or from another origin (a 403 page)."""


def token_for(secret_key: str, seed: str, purpose: str) -> str:
    """The CSRF token of ``seed`` (a session token, or a pre-session cookie for the login)."""
    key = hashlib.sha256(f"windmaker-csrf:{secret_key}".encode()).digest()
    return hmac.new(key, f"{purpose}:{seed}".encode(), hashlib.sha256).hexdigest()


def _secret(request: Request) -> str:
    key: str = request.app.state.windmaker.settings.secret_key
    return key


def session_token(request: Request) -> str | None:
    """The token of the caller's session: the bearer token, else the session cookie."""
    from windmaker.api.deps import token_of

    return token_of(request)


def expected(request: Request, *, login: bool) -> str | None:
    """The token this request must carry; None when it has nothing to derive one from."""
    if login:
        seed = request.cookies.get(PRESESSION_COOKIE)
        return token_for(_secret(request), seed, "login") if seed else None
    found = session_token(request)
    return token_for(_secret(request), found, "session") if found else None


def matches(want: str | None, *given: Any) -> bool:
    """Whether any submitted value is the expected token (compared in constant time)."""
    if not want:
        return False
    return any(
        isinstance(g, str) and g and hmac.compare_digest(g.encode(), want.encode()) for g in given
    )


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def same_origin(request: Request) -> bool:
    """Any ``Origin``, else ``Referer``, names this app. With neither, only a plain-HTTP request
    passes (as in Django, HTTPS requires one; browsers send ``Origin`` on every POST)."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own_origin(request)
    referer = request.headers.get("referer")
    if referer is not None:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == own_origin(request)
    return request.url.scheme != "https"


def check(request: Request, form: Any = None) -> None:
    """Refuse an unsafe request whose origin is foreign or whose token is missing or wrong."""
    if not same_origin(request):
        raise CsrfRefused
    want = expected(request, login=request.url.path == LOGIN_PATH)
    field = form.get(FIELD) if form is not None else None
    if not matches(want, request.headers.get(HEADER), field):
        raise CsrfRefused


async def guard(request: Request) -> None:
    """Router dependency of the dashboard: every unsafe request is checked before it acts."""
    if request.method in SAFE_METHODS:
        return
    if request.url.path in SELF_CHECKED:
        if not same_origin(request):
            raise CsrfRefused
        return
    form = None
    if not matches(
        expected(request, login=request.url.path == LOGIN_PATH), request.headers.get(HEADER)
    ):
        form = await request.form()
    check(request, form)


def page_token(request: Request, *, login: bool) -> tuple[str, str | None]:
    """The token a page embeds, and a new pre-session cookie value when the login page needs one."""
    if login:
        seed = request.cookies.get(PRESESSION_COOKIE)
        fresh = None if seed else secrets.token_urlsafe(32)
        return token_for(_secret(request), seed or fresh or "", "login"), fresh
    return expected(request, login=False) or "", None


def set_presession_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        PRESESSION_COOKIE,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def policy_with_inline_scripts(html: str) -> str:
    """:data:`POLICY` admitting exactly the inline scripts of ``html`` by their SHA-256 hashes
    (the self-contained report pages and the API's Swagger page), and no other."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return POLICY.replace("script-src 'self'", f"script-src 'self' {hashes}".rstrip())
