"""The case library (方法论复制): search cases, read one, and a brand's consent to be named
(:mod:`windmaker.services.cases`).

Every caller reads the library, and reads it alike: a brand that has not consented is never
named, whatever the caller's role. Consent is given by the brand's own user or an admin.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from windmaker.api.deps import BrandInScope, CurrentUser, ReadModelDep, SessionDep, StateDep
from windmaker.api.errors import ERROR_RESPONSES, responses
from windmaker.api.schemas import Timestamp
from windmaker.codes import Capability
from windmaker.growth.cases import STEPS
from windmaker.services import cases
from windmaker.services.configs import Configs
from windmaker.views.cases import case_source

router = APIRouter(tags=["cases"], responses=ERROR_RESPONSES)

Step = Literal["zero_breaking-climbing", "climbing-ka", "ka-ska"]
assert set(STEPS) == set(Step.__args__)  # type: ignore[attr-defined]


class CaseMonthPublic(BaseModel):
    """One month of a step: stage, capability scores (0–100) and metrics (see ``kinds``)."""

    model_config = ConfigDict(from_attributes=True)

    period: date
    stage: str | None
    scores: dict[str, float | None]
    metrics: dict[str, float | None]


class CaseProviderPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    provider_id: str
    name: str
    kind: str
    months: int = Field(description="Months of the step the provider served the brand")


class CaseActionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action_id: str
    capability: str | None
    taken: date = Field(description="The month the action was taken")
    completed: bool = Field(description="Done by the end of the step")
    completed_month: date | None


class CasePublic(BaseModel):
    """One case. ``named`` false: the brand has not consented, so no id or name, and the
    series' numbers are rounded as ``kinds`` says (``share``: whole percent; ``relative``:
    change against the first month; ``level``: one decimal; ``value``: exact)."""

    model_config = ConfigDict(from_attributes=True)

    case_id: str
    named: bool
    brand_id: str | None
    name: str | None
    category: str
    step: str
    from_stage: str
    to_stage: str
    start_period: date
    end_period: date
    months: int
    censored: bool
    size_band: int | None
    band_low: float | None
    band_high: float | None
    size_gmv: float | None
    bottleneck: str | None
    lever: str | None
    score_change: dict[str, float | None]
    gmv_change: float | None
    kinds: dict[str, str]
    series: list[CaseMonthPublic]
    providers: list[CaseProviderPublic]
    actions: list[CaseActionPublic]


class CasePage(BaseModel):
    """A page of the cases found; ``withheld``: anonymous cases of categories too small to
    show, left out of the whole library."""

    items: list[CasePublic]
    total: int
    page: int
    page_size: int
    withheld: int


class ConsentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    brand_id: str
    consented: bool
    set_by: str | None = None
    set_at: Timestamp | None = None


class ConsentUpdate(BaseModel):
    """Whether the brand lets the case library name it, and why (kept in the audit log)."""

    consented: bool
    reason: str = Field(default="", max_length=2000)


CaseId = Annotated[str, Path(min_length=1, max_length=32)]


@router.get("/cases", response_model=CasePage, summary="Search the case library")
def list_cases(
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    rm: ReadModelDep,
    category: Annotated[str | None, Query(max_length=100)] = None,
    step: Step | None = None,
    capability: Annotated[
        Capability | None,
        Query(description="A capability the case moved most, or started with as its bottleneck"),
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    found = cases.list_cases(
        session,
        Configs.of(state.settings),
        user,
        case_source(rm),
        category=category,
        step=step,
        capability=capability.value if capability is not None else None,
        min_category_brands=state.settings.privacy_min_category_brands,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    return CasePage(
        items=[CasePublic.model_validate(c) for c in found.items],
        total=found.total,
        page=page,
        page_size=page_size,
        withheld=found.withheld,
    )


@router.get("/cases/{case_id}", response_model=CasePublic, summary="One case of the library")
def get_case(
    case_id: CaseId, user: CurrentUser, session: SessionDep, state: StateDep, rm: ReadModelDep
) -> CasePublic:
    found = cases.get_case(
        session,
        Configs.of(state.settings),
        user,
        case_source(rm),
        case_id,
        min_category_brands=state.settings.privacy_min_category_brands,
    )
    return CasePublic.model_validate(found)


@router.get(
    "/brands/{brand_id}/consent",
    response_model=ConsentPublic,
    summary="Whether the brand lets the case library name it",
)
def get_consent(
    brand_id: BrandInScope, user: CurrentUser, session: SessionDep, rm: ReadModelDep
) -> ConsentPublic:
    return ConsentPublic.model_validate(cases.consent(session, user, case_source(rm), brand_id))


@router.put(
    "/brands/{brand_id}/consent",
    response_model=ConsentPublic,
    summary="Give or withdraw the brand's consent to be named in cases (the brand or an admin)",
    responses=responses(400, 403),
)
def put_consent(
    brand_id: BrandInScope,
    body: ConsentUpdate,
    user: CurrentUser,
    session: SessionDep,
    rm: ReadModelDep,
) -> ConsentPublic:
    record = cases.set_consent(
        session, user, case_source(rm), brand_id, body.consented, reason=body.reason
    )
    return ConsentPublic.model_validate(record)
