"""The application: the JSON API under /api/v1 and the web dashboard, served by one process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from windmaker import __version__
from windmaker.api.deps import AppState, PrincipalCache
from windmaker.api.errors import install_error_handlers
from windmaker.config import Settings
from windmaker.services.jobs import Jobs
from windmaker.store import engine_for, upgrade
from windmaker.views import ReadModel
from windmaker.workspace import open_warehouse

API_PREFIX = "/api/v1"
STATIC = Path(__file__).parents[1] / "web" / "static"


def api_router() -> APIRouter:
    from windmaker.api.routers import actions, auth, brands, data, portfolio, providers

    router = APIRouter(prefix=API_PREFIX)
    for module in (auth, brands, portfolio, providers, actions, data):
        router.include_router(module.router)
    return router


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Gatekeeper:
    """Refuses an upload whose declared size is over the limit before its body is read, and
    makes the server forget remembered principals after every write request.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs each request through an
    extra task and memory stream, which cost more than a whole scorecard under load.
    """

    def __init__(self, app: Any, state: AppState) -> None:
        from windmaker.api.routers import data

        self.app = app
        self.state = state
        self.data = data  # the limit is read per request: tests lower it on the module

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        data = self.data
        method = scope["method"]
        if method == "POST":
            declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"").decode(
                "latin-1"
            )
            if declared.isdigit() and int(declared) > data.UPLOAD_LIMIT_BYTES + 65536:
                from windmaker.api.errors import error_json

                response = error_json(
                    Request(scope),
                    413,
                    "payload_too_large",
                    limit=f"{data.UPLOAD_LIMIT_BYTES // (1024 * 1024)} MiB",
                )
                await response(scope, receive, send)
                return
        try:
            await self.app(scope, receive, send)
        finally:
            if method not in SAFE_METHODS:
                self.state.principals.clear()


def create_app(
    settings: Settings, *, warehouse_factory: Callable[[], Any] | None = None
) -> FastAPI:
    """The app for a workspace. ``warehouse_factory`` opens the warehouse (tests may pass their own)."""
    factory = warehouse_factory or (lambda: open_warehouse(settings))
    engine = engine_for(settings)
    state = AppState(
        settings=settings,
        engine=engine,
        readmodel=ReadModel(factory),
        jobs=Jobs(),
        warehouse_factory=factory,
        principals=PrincipalCache(settings.principal_cache_seconds),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade(engine)
        state.readmodel.reload()
        yield
        engine.dispose()

    app = FastAPI(
        title="windmaker",
        version=__version__,
        description="Brand-growth operating system for live-stream commerce: STEPS diagnosis, growth ladder, providers.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.windmaker = state
    install_error_handlers(app)

    app.add_middleware(Gatekeeper, state=state)

    app.include_router(api_router())

    from windmaker.web import pages
    from windmaker.web.pages import LoginRequired, PageNotFound, not_found_page

    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(PageNotFound)
    async def _page_404(request: Request, exc: PageNotFound) -> HTMLResponse:
        return not_found_page(request, None)

    return app
