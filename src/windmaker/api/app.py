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
from windmaker.api.deps import AppState
from windmaker.api.errors import install_error_handlers
from windmaker.api.jobs import Jobs
from windmaker.api.readmodel import ReadModel
from windmaker.config import Settings
from windmaker.store import engine_for, upgrade
from windmaker.workspace import open_warehouse

API_PREFIX = "/api/v1"
STATIC = Path(__file__).parents[1] / "web" / "static"


def api_router() -> APIRouter:
    from windmaker.api.routers import actions, auth, brands, data, portfolio, providers

    router = APIRouter(prefix=API_PREFIX)
    for module in (auth, brands, portfolio, providers, actions, data):
        router.include_router(module.router)
    return router


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

    @app.middleware("http")
    async def refuse_oversized_uploads(request: Request, call_next: Any) -> Response:
        """Refuse an upload whose declared size is over the limit before reading its body."""
        from windmaker.api.errors import error_json
        from windmaker.api.routers import data

        declared = request.headers.get("content-length", "")
        if (
            request.method == "POST"
            and declared.isdigit()
            and int(declared) > data.UPLOAD_LIMIT_BYTES + 65536
        ):
            return error_json(
                request,
                413,
                "payload_too_large",
                limit=f"{data.UPLOAD_LIMIT_BYTES // (1024 * 1024)} MiB",
            )
        response: Response = await call_next(request)
        return response

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
