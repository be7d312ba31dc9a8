"""Brands: list, scorecard, stage history, diagnosis and plan, GMV tree, series, model results."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from windmaker import results
from windmaker.api.deps import BrandInScope, CurrentUser, ReadModelDep
from windmaker.api.errors import ERROR_RESPONSES, ApiError
from windmaker.api.schemas import (
    BrandSummary,
    Diagnosis,
    Page,
    Radar,
    Rows,
    Scorecard,
    StageRecord,
)
from windmaker.codes import Attention, Stage
from windmaker.views.readmodel import JSON_MEDIA, SORTABLE

router = APIRouter(prefix="/brands", tags=["brands"], responses=ERROR_RESPONSES)

Sort = Literal["priority", "gmv_at_stake", "net_gmv_t90d", "brand_id", "name", "stage", "category"]
assert set(SORTABLE) == set(Sort.__args__)  # type: ignore[attr-defined]


#: OpenAPI links from a page of brands to the first brand's own pages, so a stateful client
#: (Schemathesis) follows real ids instead of guessing them.
BRAND_LINKS = {
    f"{name}_of_first": {
        "operationId": f"{name}_api_v1_brands__brand_id_{suffix}_get",
        "parameters": {"brand_id": "$response.body#/items/0/brand_id"},
    }
    for name, suffix in (
        ("scorecard", ""),
        ("stages", "_stages"),
        ("diagnosis", "_diagnosis"),
        ("radar", "_radar"),
        ("metrics", "_metrics"),
    )
}


@router.get(
    "",
    response_model=Page[BrandSummary],
    summary="Brands in scope, filtered, sorted, paged",
    responses={200: {"links": BRAND_LINKS}},
)
async def list_brands(
    user: CurrentUser,
    rm: ReadModelDep,
    category: str | None = None,
    stage: Stage | None = None,
    attention: Attention | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Search in id and name")] = None,
    sort: Sort = "priority",
    order: Literal["asc", "desc"] = "desc",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    items, total = rm.list_brands(
        user.scope_set,
        category=category,
        stage=stage,
        attention=attention,
        q=q,
        sort=sort,
        descending=order == "desc",
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    return Response(rm.summary_page_json(items, total, page, page_size), media_type=JSON_MEDIA)


@router.get(
    "/{brand_id}",
    response_model=Scorecard,
    summary="Scorecard: stage, STEPS scores, key metrics, trust",
)
async def scorecard(brand_id: BrandInScope, user: CurrentUser, rm: ReadModelDep) -> Scorecard:
    # In-memory and sub-millisecond: served on the event loop.
    return rm.scorecard(brand_id, viewer=user)


@router.get(
    "/{brand_id}/stages", response_model=list[StageRecord], summary="Stage history with reasons"
)
def stages(brand_id: BrandInScope, user: CurrentUser, rm: ReadModelDep) -> list[StageRecord]:
    return [StageRecord.model_validate(r) for r in rm.stage_history(brand_id, viewer=user)]


@router.get(
    "/{brand_id}/diagnosis", response_model=Diagnosis, summary="Stage, bottleneck ranking and plan"
)
def diagnosis(brand_id: BrandInScope, user: CurrentUser, rm: ReadModelDep) -> Diagnosis:
    # A brand user reads peers as counts and ranges, never their ids (views.privacy).
    return rm.diagnosis(brand_id, viewer=user)


@router.get(
    "/{brand_id}/radar", response_model=Radar, summary="STEPS scores vs category and next stage"
)
def radar(brand_id: BrandInScope, user: CurrentUser, rm: ReadModelDep) -> Radar:
    return rm.radar(brand_id, viewer=user)


@router.get("/{brand_id}/metrics", response_model=Rows, summary="Monthly metric time series")
def metrics(
    brand_id: BrandInScope,
    rm: ReadModelDep,
    metric: Annotated[
        list[str] | None, Query(description="Metric columns to return (default all)")
    ] = None,
) -> Rows:
    known = set(rm.snap.frame(results.BRAND_MONTH).columns) - {"period", "brand_id"}
    unknown = [m for m in metric or [] if m not in known]
    if unknown:
        # a key column or an unknown name is the caller's mistake, named, not a 500
        detail = [{"loc": ["query", "metric"], "msg": f"not a metric: {', '.join(unknown)}"}]
        raise ApiError(422, "validation", detail)
    return Rows(rows=rm.metric_series(brand_id, metric))


def _table_route(path: str, table: str, summary: str) -> None:
    @router.get(path, response_model=Rows, summary=summary, name=f"brand_{table}")
    def _rows(brand_id: BrandInScope, rm: ReadModelDep) -> Rows:
        return Rows(rows=rm.table_rows(table, brand_id))


_table_route("/{brand_id}/gmv-tree", results.GMV_DRIVERS, "GMV driver tree and its decomposition")
_table_route("/{brand_id}/recommendations", results.RECOMMENDATIONS, "Influencer recommendations")
_table_route("/{brand_id}/clv", results.CLV_BRAND, "Customer lifetime value (when fitted)")
_table_route(
    "/{brand_id}/traffic", results.TRAFFIC_CURVES, "Paid-traffic response curve (when fitted)"
)
_table_route("/{brand_id}/trust", results.TRUST_SCORES, "Trust score and its parts")
_table_route("/{brand_id}/horse-race", results.HORSE_RACE, "Matrix-account horse race")
_table_route("/{brand_id}/hits", results.HITS, "Hit-product detection of the brand's SKUs")
