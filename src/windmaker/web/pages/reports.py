"""Brand and provider reports, as HTML or PDF, through the report service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from windmaker.api.deps import (
    AppState,
    SessionDep,
    StateDep,
)
from windmaker.reports import service as reports
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal
from windmaker.web import security
from windmaker.web.pages.common import (
    WebUser,
    error_page,
    page_lang,
)

router = APIRouter()


def _report_response(
    request: Request,
    user: Principal,
    state: AppState,
    fmt: str,
    make: Callable[..., reports.Report],
    *args: Any,
) -> Response:
    """Call the report service ``make(*args, lang, pdf, printer=…)`` and serve what it made: the
    HTML, or the PDF as a download under its safe file name. Not found is the not-found page;
    a busy printer a 503 with ``Retry-After``."""
    printer = reports.printer_for(state.settings)
    try:
        made = make(*args, page_lang(request), fmt == "pdf", printer=printer)
    except ServiceError as exc:
        response = error_page(request, user, exc)
        if "retry_after" in exc.values:
            response.headers["Retry-After"] = str(exc.values["retry_after"])
        return response
    if made.pdf is None:  # self-contained: its inline scripts are admitted by their hashes
        policy = security.policy_with_inline_scripts(made.html)
        return HTMLResponse(made.html, headers={"Content-Security-Policy": policy})
    disposition = f'attachment; filename="{made.filename}"'
    return Response(
        made.pdf, media_type=made.media_type, headers={"Content-Disposition": disposition}
    )


@router.get("/reports/brands/{brand_id}", response_model=None)
def brand_report_page(
    brand_id: str,
    request: Request,
    user: WebUser,
    state: StateDep,
    month: str | None = None,
    format: str = "html",
) -> Response:
    """The brand's monthly report (HTML, or PDF with ``format=pdf``), for users who see the brand."""
    return _report_response(
        request, user, state, format, reports.brand_report, state.readmodel, user, brand_id, month
    )


@router.get("/reports/providers/{provider_id}", response_model=None)
def provider_report_page(
    provider_id: str,
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    month: str | None = None,
    format: str = "html",
) -> Response:
    """The provider's monthly evaluation report (HTML, or PDF with ``format=pdf``), for users
    who see the provider."""
    return _report_response(
        request, user, state, format, reports.provider_report, session, user, provider_id, month
    )
