"""API schemas (kept apart from the store's table models and the warehouse's tables).

The answers about brands (scorecard, diagnosis, radar, portfolio rows) are the read model's
typed records (:mod:`windmaker.views.records`): the API, the web, the reports and the CLI show
the same records.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path
from pydantic import BaseModel, Field

# The read model's typed records are the API's answers about brands.
from windmaker.views.records import (
    SHANGHAI,
    Bottleneck,
    BrandDiagnosis,
    BrandRecord,
    CapabilityScore,
    Diagnosis,
    PlanAction,
    PortfolioRow,
    Radar,
    Scorecard,
    StageRecord,
    Timestamp,
)

__all__ = [
    "SHANGHAI",
    "Bottleneck",
    "BrandDiagnosis",
    "BrandRecord",
    "BrandSummary",
    "CapabilityScore",
    "Diagnosis",
    "JobPublic",
    "LoginRequest",
    "Page",
    "PlanAction",
    "PortfolioRow",
    "Radar",
    "RowId",
    "Rows",
    "Scorecard",
    "StageRecord",
    "Timestamp",
    "TokenPublic",
    "UserPublic",
]

T = TypeVar("T")

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


#: The brand list's and the portfolio's rows.
BrandSummary = PortfolioRow


class Rows(BaseModel):
    """Rows of a result table (model outputs, driver tree, time series)."""

    rows: list[dict[str, Any]]


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
