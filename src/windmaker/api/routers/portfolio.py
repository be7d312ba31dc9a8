"""The operator's portfolio ranked by attention, and the ecosystem overview."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from windmaker.api.deps import CurrentUser, ReadModelDep
from windmaker.api.errors import ERROR_RESPONSES
from windmaker.api.schemas import BrandSummary, Page, Rows
from windmaker.codes import Attention, Stage
from windmaker.views.readmodel import JSON_MEDIA

router = APIRouter(tags=["portfolio"], responses=ERROR_RESPONSES)


@router.get(
    "/portfolio",
    response_model=Page[BrandSummary],
    summary="Brands in scope ranked by what needs attention",
)
async def portfolio(
    user: CurrentUser,
    rm: ReadModelDep,
    category: str | None = None,
    stage: Stage | None = None,
    attention: Attention | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Response:
    items, total = rm.list_brands(
        user.scope_set,
        category=category,
        stage=stage,
        attention=attention,
        sort="priority",
        descending=True,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    # Each brand's summary is validated against the response model and serialised once per
    # snapshot (ReadModel.summary_page_json), not once per request.
    return Response(rm.summary_page_json(items, total, page, page_size), media_type=JSON_MEDIA)


@router.get(
    "/ecosystem/stages", response_model=Rows, summary="Brands per stage and period (in scope)"
)
def stage_distribution(user: CurrentUser, rm: ReadModelDep) -> Rows:
    rows = rm.stage_distribution(user.scope_set)
    return Rows(rows=rows)


@router.get("/ecosystem/flows", response_model=Rows, summary="Moves between stages (in scope)")
def stage_flows(user: CurrentUser, rm: ReadModelDep) -> Rows:
    return Rows(rows=rm.stage_flows(user.scope_set))
