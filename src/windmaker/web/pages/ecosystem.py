"""The ecosystem page: stages across the portfolio and the windmaker-plan tiers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from windmaker.api.deps import (
    SessionDep,
    StateDep,
)
from windmaker.services.configs import Configs
from windmaker.views import charts
from windmaker.views.ecosystem import stage_moves, tier_board
from windmaker.web.pages.common import (
    PageNotFound,
    WebUser,
    page_lang,
    render,
)

router = APIRouter()


@router.get("/ecosystem", response_class=HTMLResponse)
def ecosystem(
    request: Request, user: WebUser, state: StateDep, session: SessionDep
) -> HTMLResponse:
    if user.role not in ("admin", "operator"):
        raise PageNotFound
    lang = page_lang(request)
    rm = state.readmodel
    scope = user.scope_set
    dist = rm.stage_distribution(scope)
    start, end, moves = stage_moves(rm, scope)
    board = tier_board(session, Configs.of(state.settings), user)
    tiers = [
        {
            "tier": x.name(lang),
            "count": x.at_or_above,
            "target": x.target,
            "threshold": x.threshold,
            "progress": x.progress,
        }
        for x in board.tiers
    ]
    flow_chart = charts.flows(moves, lang, start, end) if moves else None
    return render(
        request,
        "ecosystem.html",
        user,
        nav="ecosystem",
        dist_chart=charts.stage_distribution(dist, lang) if dist else None,
        flow_chart=flow_chart,
        flow_height=charts.flow_height(flow_chart) if flow_chart else None,
        flow_start=start,
        flow_end=end,
        tiers=tiers,
        tier_chart=charts.tier_progress(tiers, lang) if tiers else None,
        closest=board.closest,
    )
