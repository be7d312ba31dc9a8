"""Source factories (源头工厂), industrial belts (产业带), how factory-upgraded brands climb, and
factories ranked for a brand looking for a channel-exclusive SKU.

Readable by admins, operators and supply-chain providers (403 for other roles); a brand's
ranking only for a brand in the caller's scope (404 otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from windmaker.api.deps import CurrentUser, ReadModelDep, SessionDep, StateDep
from windmaker.api.errors import ERROR_RESPONSES, responses
from windmaker.services import factories as access
from windmaker.services.configs import Configs
from windmaker.services.errors import not_found
from windmaker.views import factories as view

router = APIRouter(prefix="/factories", tags=["factories"], responses=ERROR_RESPONSES)


class FactoryPublic(BaseModel):
    """A source factory: what its goods did once sold, and its quality score in its category."""

    factory_id: str
    name: str | None = None
    region: str | None = None
    category: str | None = None
    orders: int
    refund_rate: float | None = None
    refund_ratio: float
    quality_complaints_per_1k: float
    hit_rate: float
    skus: int
    special_skus: int
    brands: int
    peak_monthly_units: int
    quality_score: float | None = None
    gated: bool


class FactoryPick(FactoryPublic):
    """A factory ranked for a brand, with the reasons of its place (codes and their numbers)."""

    rank: int
    score: float
    same_category: bool
    reasons: list[dict[str, Any]]


class BrandFactoriesPublic(BaseModel):
    brand_id: str
    category: str | None
    special_supply_bottleneck: bool
    picks: list[FactoryPick]


class BeltPublic(BaseModel):
    """An industrial belt: a region's factories of one category."""

    region: str
    category: str
    factories: int
    factories_listed: int | None = None
    brands: int
    net_gmv: float
    recent_gmv: float | None = None
    base_gmv: float | None = None
    growth: float | None = None


class OriginPublic(BaseModel):
    """Brands of one origin (traditional or factory-upgraded) and how they climb."""

    origin: str
    brands: int
    moved_up_share: float
    median_step_months: float | None = None
    ka_or_above_share: float


@router.get(
    "",
    response_model=list[FactoryPublic],
    summary="Source factories by quality score",
    responses=responses(403),
)
def list_factories(
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    rm: ReadModelDep,
    category: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    access.require_factory_reader(session, user)
    return view.factory_rows(rm, Configs.of(state.settings).factories, category=category)


@router.get(
    "/belts",
    response_model=list[BeltPublic],
    summary="Industrial belts (产业带)",
    responses=responses(403),
)
def list_belts(
    user: CurrentUser, session: SessionDep, state: StateDep, rm: ReadModelDep
) -> list[dict[str, Any]]:
    access.require_factory_reader(session, user)
    return view.belt_rows(rm, Configs.of(state.settings).factories)


@router.get(
    "/origins",
    response_model=list[OriginPublic],
    summary="How factory-upgraded brands climb against traditional ones",
    responses=responses(403),
)
def list_origins(user: CurrentUser, session: SessionDep, rm: ReadModelDep) -> list[dict[str, Any]]:
    access.require_factory_reader(session, user)
    return view.origin_rows(rm)


@router.get(
    "/for-brand/{brand_id}",
    response_model=BrandFactoriesPublic,
    summary="Factories ranked for a brand looking for a channel-exclusive SKU",
    responses=responses(403),
)
def brand_factories(
    brand_id: str, user: CurrentUser, session: SessionDep, state: StateDep, rm: ReadModelDep
) -> BrandFactoriesPublic:
    access.require_brand_ranking(session, user, brand_id)
    if rm.brand(brand_id) is None:
        raise not_found()
    found = view.brand_factories(rm, Configs.of(state.settings).factories, brand_id)
    return BrandFactoriesPublic(
        brand_id=found.brand_id,
        category=found.category,
        special_supply_bottleneck=found.special_supply_bottleneck,
        picks=[FactoryPick.model_validate(p) for p in found.picks],
    )
