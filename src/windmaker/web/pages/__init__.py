"""Pages of the dashboard, one module per area. Each handler builds a context and renders one
template.

Access is the API's: the same ``Principal`` and scope rules; a brand outside the caller's scope
is a not-found page, exactly like a brand that does not exist. Every unsafe request of the
dashboard passes the CSRF and same-origin check first.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from windmaker.web import security
from windmaker.web.pages import (
    brand,
    cases,
    data,
    drilldown,
    ecosystem,
    factories,
    plan,
    providers,
    reports,
    session,
    workbench,
)
from windmaker.web.pages.common import (
    LoginRequired,
    PageNotFound,
    not_found_page,
    page_lang,
    render,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(security.guard)])
for _area in (
    session,
    workbench,
    brand,
    drilldown,
    ecosystem,
    factories,
    plan,
    providers,
    cases,
    data,
    reports,
):
    router.include_router(_area.router)

__all__ = ["LoginRequired", "PageNotFound", "not_found_page", "page_lang", "render", "router"]
