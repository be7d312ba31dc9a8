"""The application: the JSON API under /api/v1 and the web dashboard, served by one process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from windmaker import __version__
from windmaker.api.deps import AppState, PrincipalCache
from windmaker.api.errors import install_error_handlers
from windmaker.config import Settings
from windmaker.i18n import t
from windmaker.services import ingest as ingest_service
from windmaker.services import models as models_service
from windmaker.services import watch as watch_service
from windmaker.services.configs import Configs
from windmaker.services.identity import workspace_admin
from windmaker.services.jobs import Jobs
from windmaker.store import engine_for, open_session, upgrade
from windmaker.store.consents import case_key
from windmaker.views import ReadModel
from windmaker.views.cases import link_cases
from windmaker.web import security
from windmaker.workspace import open_warehouse

API_PREFIX = "/api/v1"
STATIC = Path(__file__).parents[1] / "web" / "static"


def api_router() -> APIRouter:
    from windmaker.api.routers import (
        actions,
        allocations,
        auth,
        brands,
        cases,
        data,
        factories,
        jobs,
        portfolio,
        providers,
    )

    router = APIRouter(prefix=API_PREFIX)
    for module in (
        auth,
        brands,
        portfolio,
        providers,
        actions,
        cases,
        data,
        jobs,
        factories,
        allocations,
    ):
        router.include_router(module.router)
    return router


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


#: Paths that take a file upload: their caller is authenticated before a byte of the body is
#: read, and their body may reach the upload limit.
UPLOAD_PATHS = frozenset({f"{API_PREFIX}/ingest", "/data/upload"})
#: Largest body of any other write (JSON, forms): none needs more than a few kilobytes.
FORM_LIMIT_BYTES = 1024 * 1024
#: Room for the multipart envelope around an upload's file.
ENVELOPE_BYTES = 65536


class BodyTooLarge(StarletteHTTPException):
    """A request body that went past its limit while it streamed (rendered as a 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"{limit // (1024 * 1024)} MiB")


class Gatekeeper:
    """Guards request bodies before and while they stream.

    An upload's caller is authenticated before its body is read (401, or the login page, with
    nothing spooled); every body is refused with 413 when its declared size is over the limit
    and cut off at the limit while it streams, chunked or not (``Content-Length`` is a claim,
    the bytes are counted).

    Remembered principals are not forgotten here: the store invalidates exactly the user whose
    identity changed (``PrincipalCache``), so a write request does not flush everyone's.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs each request through an
    extra task and memory stream, which cost more than a whole scorecard under load.
    """

    def __init__(self, app: Any, state: AppState) -> None:
        from windmaker.api.routers import data

        self.app = app
        self.state = state
        self.data = data  # the limit is read per request: tests lower it on the module

    async def _refuse_anonymous(self, scope: Any, receive: Any, send: Any) -> bool:
        """Answer an unauthenticated upload (401, or the login page) before its body is read."""
        from windmaker.api.deps import authenticate_token, token_of
        from windmaker.api.errors import error_json

        request = Request(scope)
        found = await authenticate_token(self.state, token_of(request))
        if not isinstance(found, str):
            return False
        response: Response
        if scope["path"].startswith(API_PREFIX):
            response = error_json(request, 401, found)
        else:
            response = RedirectResponse("/login?next=/data", status_code=303)
        await response(scope, receive, send)
        return True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS:
            upload = scope["path"] in UPLOAD_PATHS
            limit = self.data.UPLOAD_LIMIT_BYTES if upload else FORM_LIMIT_BYTES
            allowed = limit + ENVELOPE_BYTES if upload else limit
            declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"").decode(
                "latin-1"
            )
            if declared.isdigit() and int(declared) > allowed:
                from windmaker.api.errors import error_json

                too_large = error_json(
                    Request(scope), 413, "payload_too_large", limit=BodyTooLarge(limit).detail
                )
                await too_large(scope, receive, send)
                return
            if upload and await self._refuse_anonymous(scope, receive, send):
                return
            receive = _counted(receive, allowed, limit)
        await self.app(scope, receive, send)


#: Headers of every response (a response that sets its own CSP, such as a report page whose
#: inline scripts are admitted by hash, keeps it).
SECURITY_HEADERS = (
    (b"content-security-policy", security.POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response, errors and static files included.

    A plain ASGI middleware (see :class:`Gatekeeper`) that only touches the response's start.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def swagger_page(title: str) -> HTMLResponse:
    """The API's Swagger UI from the locally served ``swagger-ui-dist`` (no CDN), its one inline
    init script admitted by its hash, and no online validator badge."""
    from fastapi.openapi.docs import get_swagger_ui_html

    page = get_swagger_ui_html(
        openapi_url=f"{API_PREFIX}/openapi.json",
        title=title,
        swagger_js_url="/static/vendor/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui.css",
        swagger_favicon_url="/static/vendor/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode()
    page.headers["Content-Security-Policy"] = security.policy_with_inline_scripts(html)
    return page


def _counted(receive: Any, allowed: int, limit: int) -> Any:
    """``receive`` that counts the body's bytes and stops it past ``allowed``."""
    received = 0

    async def counted() -> Any:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > allowed:
                raise BodyTooLarge(limit)
        return message

    return counted


def create_app(
    settings: Settings,
    *,
    warehouse_factory: Callable[[], Any] | None = None,
    fit_models: bool = False,
    watch: Path | None = None,
) -> FastAPI:
    """The app for a workspace. ``warehouse_factory`` opens the warehouse (tests may pass their own).

    With ``fit_models`` the server starts fitting the models as a background job as soon as it
    answers (``windmaker serve --fit-models``, what the demo does): the diagnosed dashboard is
    served at once, admins follow the fit on the data page, and the pages read the fitted
    models when it is stored. With ``watch`` (``windmaker serve --watch DIR``) files dropped
    into that folder are ingested and diagnosed for the server's life, each pass a job
    (:func:`windmaker.services.watch.start_watch`), and the read model reloads after each.
    """
    factory = warehouse_factory or (lambda: open_warehouse(settings))
    engine = engine_for(settings)
    state = AppState(
        settings=settings,
        engine=engine,
        readmodel=ReadModel(
            factory,
            min_category_brands=settings.privacy_min_category_brands,
            trust_weights=Configs.of(settings).trust.score.weights,
        ),
        jobs=Jobs(
            {
                "ingest": settings.ingest_concurrency,
                "refresh": settings.refresh_concurrency,
                "fit": settings.fit_concurrency,
            }
        ),
        warehouse_factory=factory,
        principals=PrincipalCache(settings.principal_cache_seconds),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade(engine)
        with open_session(engine) as session:  # plan evidence names its peers' cases
            link_cases(state.readmodel, case_key(session))
        ingest_service.clear_abandoned_uploads(settings)
        state.readmodel.reload()
        if fit_models:
            models_service.start_fit(
                state.jobs,
                settings,
                workspace_admin("serve"),
                warehouse_factory=factory,
                after=state.readmodel.reload,
            )
        watcher = (
            watch_service.start_watch(state.jobs, settings, watch, after_run=state.readmodel.reload)
            if watch is not None
            else None
        )
        yield
        if watcher is not None:
            watcher.stop()
        state.jobs.shutdown()
        engine.dispose()

    app = FastAPI(
        title="windmaker",
        version=__version__,
        description="Brand-growth operating system for live-stream commerce: STEPS diagnosis, growth ladder, providers.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served below from local assets, under a CSP
        redoc_url=None,
    )
    app.state.windmaker = state
    install_error_handlers(app)

    app.add_middleware(Gatekeeper, state=state)
    app.add_middleware(SecurityHeaders)  # outermost: Gatekeeper's refusals get the headers too

    app.include_router(api_router())

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    async def _docs() -> HTMLResponse:
        return swagger_page(f"{app.title} API")

    from windmaker.web import pages
    from windmaker.web.pages import LoginRequired, PageNotFound, not_found_page

    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(security.CsrfRefused)
    async def _csrf_refused(request: Request, exc: security.CsrfRefused) -> HTMLResponse:
        lang = pages.page_lang(request)
        title, message = (t(k, lang) for k in ("error.csrf_refused", "error.csrf_refused_hint"))
        return pages.render(request, "message.html", None, 403, title=title, message=message)

    @app.exception_handler(PageNotFound)
    async def _page_404(request: Request, exc: PageNotFound) -> HTMLResponse:
        return not_found_page(request, None)

    return app
