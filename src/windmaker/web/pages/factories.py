"""The factories page: source factories by quality, industrial belts, how factory-upgraded
brands climb, and the factories ranked for one brand (``?brand=``).

For admins, operators and supply-chain providers (a not-found page for anyone else, as the
API's 403 would tell them nothing they may use); a brand outside the caller's scope is a
not-found page, as everywhere.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from windmaker.api.deps import SessionDep, StateDep
from windmaker.services import factories as access
from windmaker.services.configs import Configs
from windmaker.views import charts
from windmaker.views import factories as view
from windmaker.web.pages.common import PageNotFound, WebUser, page_lang, render

router = APIRouter()

#: Factories listed on the page (the best quality scores of the chosen category).
SHOWN = 50


@router.get("/factories", response_class=HTMLResponse)
def factories(
    request: Request,
    user: WebUser,
    state: StateDep,
    session: SessionDep,
    category: Annotated[str, Query(max_length=64)] = "",
    brand: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    if not access.may_read_factories(session, user):
        raise PageNotFound
    lang = page_lang(request)
    rm = state.readmodel
    config = Configs.of(state.settings).factories
    categories = view.factory_categories(rm)
    chosen = category if category in categories else ""
    rows = view.factory_rows(rm, config, category=chosen or None)
    belts = view.belt_rows(rm, config)
    ranked = None
    if brand:
        if not user.sees_brand(brand) or rm.brand(brand) is None:
            raise PageNotFound
        ranked = view.brand_factories(rm, config, brand)
    return render(
        request,
        "factories.html",
        user,
        nav="factories",
        factory_reader=True,
        categories=categories,
        category=chosen,
        rows=rows[:SHOWN],
        total=len(rows),
        belts=belts[:20],
        belt_chart=charts.belt_bars(belts, lang) if belts else None,
        belt_months=config.belts.growth_months,
        origins=view.origin_rows(rm),
        brand=brand,
        ranked=ranked,
    )
