"""The operator's portfolio ranked by attention, and the ecosystem overview."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from windmaker.api.deps import CurrentUser, ReadModelDep, StateDep
from windmaker.api.errors import ERROR_RESPONSES
from windmaker.api.schemas import BrandSummary, Page, Rows
from windmaker.codes import Attention, Stage
from windmaker.store import open_session
from windmaker.views import portfolio as workbench
from windmaker.views.readmodel import JSON_MEDIA

router = APIRouter(tags=["portfolio"], responses=ERROR_RESPONSES)

Sort = Literal[
    "priority",
    "name",
    "category",
    "stage",
    "attention",
    "bottleneck",
    "gmv_change",
    "net_gmv_t90d",
    "gmv_at_stake",
]
assert set(workbench.SORTS) == set(Sort.__args__)  # type: ignore[attr-defined]


@router.get(
    "/portfolio",
    response_model=Page[BrandSummary],
    summary="Brands in scope ranked by what needs attention",
)
def portfolio(
    user: CurrentUser,
    rm: ReadModelDep,
    state: StateDep,
    category: str | None = None,
    stage: Stage | None = None,
    attention: Attention | None = None,
    provider: Annotated[
        str | None, Query(max_length=100, description="Brands this provider serves today")
    ] = None,
    q: Annotated[str | None, Query(max_length=100, description="Search in id and name")] = None,
    sort: Sort = "priority",
    dir: Literal["asc", "desc"] | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=workbench.MAX_PAGE_SIZE)] = workbench.PAGE_SIZE,
) -> Response:
    """The workbench's list: the same search, filters, sort (priority 1 first by default) and
    paging as the web page, over every brand in the caller's scope."""
    query = workbench.PortfolioQuery.parse(
        {
            "category": category or "",
            "stage": stage or "",
            "attention": attention or "",
            "provider": provider or "",
            "q": q or "",
            "sort": sort,
            "dir": dir or "",
            "page": str(page),
            "page_size": str(page_size),
        }
    )
    clients = None
    if provider:  # the store is read only for this filter: most requests never open a session
        with open_session(state.engine) as session:
            clients = workbench.provider_clients(session, user)[0]
    rows = workbench.select_rows(rm, user.scope_set, query, clients=clients)
    start = (page - 1) * page_size
    items = rows[start : start + page_size]
    # Each brand's summary is validated against the response model and serialised once per
    # snapshot (ReadModel.summary_page_json), not once per request.
    return Response(rm.summary_page_json(items, len(rows), page, page_size), media_type=JSON_MEDIA)


@router.get(
    "/ecosystem/stages", response_model=Rows, summary="Brands per stage and period (in scope)"
)
def stage_distribution(user: CurrentUser, rm: ReadModelDep) -> Rows:
    rows = rm.stage_distribution(user.scope_set)
    return Rows(rows=rows)


@router.get("/ecosystem/flows", response_model=Rows, summary="Moves between stages (in scope)")
def stage_flows(user: CurrentUser, rm: ReadModelDep) -> Rows:
    return Rows(rows=rm.stage_flows(user.scope_set))
