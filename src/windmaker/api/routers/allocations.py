"""The windmaker plan's allocations (造风者计划资源分配): propose one from a budget, read the
proposals, confirm or reject one (audited). Admins only: 403 for every other role.

Each route parses, calls :mod:`windmaker.services.allocation` and answers its records; a line's
reason is its code and parameters as stored, with its text in both languages.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from windmaker.api.deps import AdminUser, SessionDep, StateDep
from windmaker.api.errors import ERROR_RESPONSES, responses
from windmaker.api.schemas import RowId, Timestamp
from windmaker.i18n import reason_text
from windmaker.services import allocation as service
from windmaker.services.configs import Configs

router = APIRouter(prefix="/allocations", tags=["allocations"], responses=ERROR_RESPONSES)

AllocationStatus = Literal["proposed", "confirmed", "rejected"]


class AllocationCreate(BaseModel):
    """The plan's budget: the same funds and traffic in each of ``periods`` months from
    ``start`` (its month; default: the month after the latest evaluation)."""

    funds_per_period: float = Field(ge=0, le=service.MAX_FUNDS, description="Yuan per month")
    traffic_per_period: float = Field(
        ge=0, le=service.MAX_TRAFFIC, description="Impressions per month"
    )
    periods: int = Field(default=12, ge=1, le=service.MAX_PERIODS, description="Months")
    start: date | None = Field(
        default=None,
        ge=service.FIRST_START,
        le=service.LAST_START,
        description="The plan's first month (any day of it)",
    )


class AllocationDecision(BaseModel):
    """A person's answer to a proposal, with why (both in the audit log)."""

    outcome: Literal["confirmed", "rejected"]
    note: str = Field(default="", max_length=2000)


class LinePublic(BaseModel):
    """One provider's funds (yuan), traffic (impressions) and expected GMV uplift (yuan) in one
    period, and the reason: its code and parameters, and its text (``reason``, ``reason_zh``)."""

    model_config = ConfigDict(from_attributes=True)

    provider_id: str
    period: date
    funds: float
    traffic: float
    expected_uplift: float
    reason_code: str
    reason_params: dict[str, Any]
    reason: str
    reason_zh: str


class CountRangePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    mean: float
    median: float
    low: int
    high: int


class TierOutlookPublic(BaseModel):
    """Providers at or above one tier line: now, and at year-end with the allocation and
    without it (median and central interval)."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    threshold: float
    target: int
    now: int
    with_plan: CountRangePublic
    without_plan: CountRangePublic


class AllocationSummaryPublic(BaseModel):
    """A proposal without its lines: the budget, the totals it hands out, its decision."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: Timestamp
    created_by: str
    status: AllocationStatus
    periods: list[date]
    funds_per_period: list[float]
    traffic_per_period: list[float]
    funds: float
    traffic: float
    expected_uplift: float
    providers_funded: int
    solver_status: str
    crossings: list[tuple[str, str]]
    decided_by: str | None
    decided_at: Timestamp | None
    note: str | None


class AllocationPublic(AllocationSummaryPublic):
    """A proposal with its lines (providers × periods) and the year-end tier forecast."""

    lines: list[LinePublic]
    tiers: list[TierOutlookPublic]
    interval: float


def _public(record: service.AllocationRecord) -> AllocationPublic:
    summary = AllocationSummaryPublic.model_validate(record).model_dump()
    return AllocationPublic(
        **summary,
        lines=[
            LinePublic(
                **vars(ln),
                reason=reason_text(ln.reason_code, ln.reason_params, "en"),
                reason_zh=reason_text(ln.reason_code, ln.reason_params, "zh-CN"),
            )
            for ln in record.lines
        ],
        tiers=[TierOutlookPublic.model_validate(x) for x in record.tiers],
        interval=record.interval,
    )


@router.post(
    "",
    response_model=AllocationPublic,
    status_code=201,
    summary="Propose an allocation of the plan's funds and traffic (admin; audited)",
    responses=responses(400, 403, 409),
)
def propose(
    body: AllocationCreate, user: AdminUser, session: SessionDep, state: StateDep
) -> AllocationPublic:
    record = service.propose_allocation(
        session,
        Configs.of(state.settings),
        user,
        funds_per_period=body.funds_per_period,
        traffic_per_period=body.traffic_per_period,
        periods=body.periods,
        start=body.start,
    )
    return _public(record)


@router.get(
    "",
    response_model=list[AllocationSummaryPublic],
    summary="Allocations proposed, newest first (admin)",
    responses=responses(403),
)
def list_allocations(
    user: AdminUser,
    session: SessionDep,
    status: AllocationStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[AllocationSummaryPublic]:
    rows = service.list_allocations(session, user, status=status, limit=limit)
    return [AllocationSummaryPublic.model_validate(r) for r in rows]


@router.get(
    "/{allocation_id}",
    response_model=AllocationPublic,
    summary="One allocation with its lines and tier forecast (admin)",
    responses=responses(403),
)
def get_allocation(allocation_id: RowId, user: AdminUser, session: SessionDep) -> AllocationPublic:
    return _public(service.get_allocation(session, user, allocation_id))


@router.post(
    "/{allocation_id}/decision",
    response_model=AllocationPublic,
    summary="Confirm or reject a proposed allocation (admin; audited)",
    responses=responses(400, 403, 409),
)
def decide(
    allocation_id: RowId, body: AllocationDecision, user: AdminUser, session: SessionDep
) -> AllocationPublic:
    record = service.decide_allocation(
        session, user, allocation_id, outcome=body.outcome, note=body.note
    )
    return _public(record)
