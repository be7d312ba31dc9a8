"""API schemas (kept apart from the store's table models and the warehouse's tables)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Path
from pydantic import AfterValidator, BaseModel, Field

T = TypeVar("T")

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _with_offset(value: datetime) -> datetime:
    """Stored timestamps are naive Asia/Shanghai wall clock; say so in the answer."""
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


#: A timestamp answered with its UTC offset: OpenAPI's ``date-time`` (RFC 3339) requires one,
#: and a client in another time zone must not read Shanghai wall clock as its own.
Timestamp = Annotated[datetime, AfterValidator(_with_offset)]

#: A row id in a path: the store's integers are 64-bit, so a larger number is a 422, not a
#: driver overflow (500).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` plus where it sits in the whole."""

    items: list[T]
    total: int
    page: int
    page_size: int


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: Timestamp


class UserPublic(BaseModel):
    username: str
    role: str
    provider_id: str | None = None
    brand_id: str | None = None
    brands_in_scope: int | None = Field(None, description="Number of brands visible; null = all")


class BrandSummary(BaseModel):
    brand_id: str
    name: str | None = None
    category: str | None = None
    origin: str | None = None
    stage: str | None = None
    attention: str | None = None
    bottleneck: str | None = None
    gmv_at_stake: float | None = None
    priority: float | None = None
    net_gmv: float | None = None
    net_gmv_t90d: float | None = None
    trust_alert: bool = False


class CapabilityScore(BaseModel):
    capability: str
    index: float | None = None
    score: float | None = None
    #: ``category``: the percentile within the brand's category; ``all``: among every brand of
    #: the month, because the category is too small for a percentile of its own.
    benchmark: str | None = None


class StageRecord(BaseModel):
    period: date
    stage: str
    candidate_stage: str | None = None
    reason_en: str | None = None
    reason_zh: str | None = None


class Scorecard(BaseModel):
    brand: dict[str, Any] | None
    period: date | None
    stage: dict[str, Any] | None
    #: Why the brand has no stage yet (insufficient history), when it has none.
    unjudged: dict[str, Any] | None = None
    capabilities: list[CapabilityScore]
    metrics: dict[str, Any]
    trust: list[dict[str, Any]] | None = None
    trust_alert: bool
    #: Brushing flags of the brand: orders per confidence (high / review) and signals fired.
    brushing_evidence: list[dict[str, Any]] = []


class Diagnosis(BaseModel):
    stage: dict[str, Any] | None
    bottlenecks: list[dict[str, Any]]
    plan: list[dict[str, Any]]


class Rows(BaseModel):
    """Rows of a result table (model outputs, driver tree, time series)."""

    rows: list[dict[str, Any]]


class Radar(BaseModel):
    capabilities: list[str]
    brand: list[float | None]
    category_median: list[float | None]
    next_stage_median: list[float | None]


class JobPublic(BaseModel):
    id: str
    kind: str
    status: str
    progress: float
    stage: str
    started_at: Timestamp
    finished_at: Timestamp | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
