"""Providers: registry, admission applications and decisions, evaluations, assignments, tiers.

Each route parses, calls the provider workflow (:mod:`windmaker.services.providers`, where the
rules live) and answers its records; the tier board is the read model's
(:class:`windmaker.views.ecosystem.TierBoardView`), the one the ecosystem page shows.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from windmaker.api.deps import CurrentUser, ProviderInScope, SessionDep, StateDep
from windmaker.api.errors import ERROR_RESPONSES, responses
from windmaker.api.schemas import RowId, Timestamp
from windmaker.codes import (
    AdmissionOutcome,
    Capability,
    DecisionKind,
    DecisionStatus,
    ProviderKind,
)
from windmaker.ecosystem.admission import ProviderApplication
from windmaker.services import providers as service
from windmaker.services.configs import Configs
from windmaker.views.ecosystem import TierBoardView, tier_board

router = APIRouter(tags=["providers"], responses=ERROR_RESPONSES)


class ProviderPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    provider_id: str
    name: str
    kind: str
    capabilities: list[str]
    categories: list[str]
    capacity: int
    team_size: int
    gmv_served_12m: Decimal
    status: str


class ReasonPublic(BaseModel):
    """One reason of an admission proposal, an evaluation, a warning or an exit: its code and
    parameters as stored, and its text in both languages (``message``, ``message_zh``). Other
    fields of the verdict (``value``, ``ok``, ``outcome``, ``admit``, ``probation``) pass through."""

    model_config = ConfigDict(extra="allow")

    criterion: str | None = None
    code: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    message: str
    message_zh: str


def _rendered(reasons: Any) -> list[dict[str, Any]]:
    """Stored reasons with their text rendered in both languages (old rows keep their text)."""
    rows = [r if isinstance(r, dict) else {"message": str(r)} for r in reasons or []]
    return [
        {
            **r,
            "params": r.get("params") or {},
            "message": service.reason_line(r, "en"),
            "message_zh": service.reason_line(r, "zh-CN"),
        }
        for r in rows
    ]


Reasons = Annotated[list[ReasonPublic], BeforeValidator(_rendered)]


class EvaluationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    provider_id: str
    period: date
    gmv_served: Decimal
    score: float
    meets_standard: bool
    severe_violation: bool
    metrics: dict[str, Any]
    reasons: Reasons


class AssignmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_id: str
    brand_id: str
    started_at: date
    ended_at: date | None
    source: str


class DecisionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_id: str
    application_id: int | None
    kind: str
    period: date | None
    proposed_outcome: str
    reasons: Reasons
    status: str
    outcome: str | None
    reviewer: str | None
    note: str | None
    proposed_at: Timestamp
    decided_at: Timestamp | None


class ApplicationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_id: str
    submitted_at: Timestamp
    qualifications: dict[str, Any]
    status: str


class ApplicationWithProposal(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    application: ApplicationPublic
    proposal: DecisionPublic


class ApplicationCreate(BaseModel):
    """An admission application (准入申请)."""

    provider_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: ProviderKind
    capabilities: list[Capability] = Field(min_length=1, max_length=5)
    categories: list[str] = Field(min_length=1, max_length=50)
    team_size: int = Field(ge=0, le=1_000_000)
    gmv_served_12m: Decimal = Field(ge=0, le=Decimal("1e15"), decimal_places=2)
    capacity: int = Field(ge=0, le=100_000)
    cases: list[str] = Field(default_factory=list, max_length=100)
    founded_at: date | None = None


class DecisionCreate(BaseModel):
    model_config = ConfigDict(use_enum_values=True)

    decision: AdmissionOutcome
    note: str = Field(default="", max_length=2000)


@router.get(
    "/providers", response_model=list[ProviderPublic], summary="Provider registry (in scope)"
)
def registry(
    user: CurrentUser, session: SessionDep, status: str | None = None
) -> list[ProviderPublic]:
    rows = service.providers_in_scope(session, user, status=status)
    return [ProviderPublic.model_validate(p) for p in rows]


@router.get("/providers/{provider_id}", response_model=ProviderPublic, summary="One provider")
def provider(
    provider_id: ProviderInScope, user: CurrentUser, session: SessionDep
) -> ProviderPublic:
    return ProviderPublic.model_validate(service.provider(session, user, provider_id))


@router.get(
    "/providers/{provider_id}/evaluations",
    response_model=list[EvaluationPublic],
    summary="Evaluation history",
)
def evaluations(
    provider_id: ProviderInScope, user: CurrentUser, session: SessionDep
) -> list[EvaluationPublic]:
    rows = service.evaluations(session, user, provider_id)
    return [EvaluationPublic.model_validate(e) for e in rows]


@router.get(
    "/providers/{provider_id}/assignments",
    response_model=list[AssignmentPublic],
    summary="Client brands over time",
)
def assignments(
    provider_id: ProviderInScope, user: CurrentUser, session: SessionDep
) -> list[AssignmentPublic]:
    rows = service.assignments(session, user, provider_id)
    return [AssignmentPublic.model_validate(a) for a in rows]


@router.get(
    "/decisions",
    response_model=list[DecisionPublic],
    summary="Decisions (proposed and confirmed) in scope",
)
def decisions(
    user: CurrentUser,
    session: SessionDep,
    status: DecisionStatus | None = None,
    kind: DecisionKind | None = None,
) -> list[DecisionPublic]:
    rows = service.decisions(session, user, status=status, kind=kind)
    return [DecisionPublic.model_validate(d) for d in rows]


@router.get(
    "/applications",
    response_model=list[ApplicationWithProposal],
    summary="Admission review queue (in scope)",
)
def applications(user: CurrentUser, session: SessionDep) -> list[ApplicationWithProposal]:
    return [ApplicationWithProposal.model_validate(r) for r in service.applications(session, user)]


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationWithProposal,
    summary="One application and its proposal",
)
def application(
    application_id: RowId, user: CurrentUser, session: SessionDep
) -> ApplicationWithProposal:
    found = service.application(session, user, application_id)
    return ApplicationWithProposal.model_validate(found)


@router.post(
    "/applications",
    response_model=ApplicationWithProposal,
    status_code=201,
    summary="Apply for admission (准入)",
    responses=responses(400, 403, 409),
)
def apply(
    body: ApplicationCreate, user: CurrentUser, session: SessionDep, state: StateDep
) -> ApplicationWithProposal:
    filed = service.apply(
        session,
        Configs.of(state.settings),
        user,
        ProviderApplication.from_dict(body.model_dump()),
    )
    return ApplicationWithProposal.model_validate(filed)


@router.post(
    "/applications/{application_id}/decision",
    response_model=DecisionPublic,
    summary="Decide an application (admin): admitted, probation or rejected",
    responses=responses(400, 403, 409),
)
def decide(
    application_id: RowId, body: DecisionCreate, user: CurrentUser, session: SessionDep
) -> DecisionPublic:
    taken = service.decide(session, user, application_id, decision=body.decision, note=body.note)
    return DecisionPublic.model_validate(taken)


@router.get(
    "/tiers",
    response_model=TierBoardView,
    summary="Windmaker-plan tiers: providers per tier against targets, closest to the next",
)
def tiers(
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    per_tier: Annotated[int, Query(ge=1, le=100)] = 10,
) -> TierBoardView:
    return tier_board(session, Configs.of(state.settings), user, per_tier=per_tier)
