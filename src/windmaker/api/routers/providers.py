"""Providers: registry, admission applications and decisions, evaluations, assignments, tiers.

Each route parses, calls the provider workflow (:mod:`windmaker.services.providers`, where the
rules live) and answers its records; the tier board is the read model's
(:class:`windmaker.views.ecosystem.TierBoardView`), the one the ecosystem page shows.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from windmaker.api.deps import CurrentUser, ProviderInScope, ReadModelDep, SessionDep, StateDep
from windmaker.api.errors import ERROR_RESPONSES, responses
from windmaker.api.schemas import RowId, Timestamp
from windmaker.codes import (
    AdmissionOutcome,
    DecisionKind,
    DecisionStatus,
    ProviderKind,
)
from windmaker.ecosystem.admission import ApplicationInput
from windmaker.services import providers as service
from windmaker.services.configs import Configs
from windmaker.views.ecosystem import (
    ProviderView,
    RegistryView,
    TierBoardView,
    provider_view,
    registry_view,
    tier_board,
)

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


class ApplicationCreate(ApplicationInput):
    """An admission application (准入申请): every qualification the standards score, with
    the limits the dashboard's form holds it to (one model for both)."""


class ExitReview(BaseModel):
    """An admin's answer to a proposed warning or exit: confirm it (no ``outcome``) or answer
    ``dismissed`` (or the other outcome of its kind)."""

    outcome: Literal["warned", "exited", "dismissed"] | None = None
    note: str = Field(default="", max_length=2000)


class DecisionCreate(BaseModel):
    model_config = ConfigDict(use_enum_values=True)

    decision: AdmissionOutcome
    note: str = Field(default="", max_length=2000)


@router.get(
    "/providers", response_model=list[ProviderPublic], summary="Provider registry (in scope)"
)
def registry(
    user: CurrentUser,
    session: SessionDep,
    status: str | None = None,
    q: Annotated[str, Query(max_length=100, description="Part of the name or id")] = "",
    kind: ProviderKind | None = None,
) -> list[ProviderPublic]:
    rows = service.providers_in_scope(session, user, status=status)
    needle = q.strip().lower()
    return [
        ProviderPublic.model_validate(p)
        for p in rows
        if (not needle or needle in p.name.lower() or needle in p.provider_id.lower())
        and (kind is None or p.kind == kind)
    ]


@router.get(
    "/registry",
    response_model=RegistryView,
    summary="The registry as the dashboard shows it: tier, latest score, clients, capacity",
)
def registry_board(
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    q: Annotated[str, Query(max_length=100, description="Part of the name or id")] = "",
    kind: ProviderKind | None = None,
    tier: Annotated[str, Query(max_length=32, description="A tier code or 'none'")] = "",
) -> RegistryView:
    return registry_view(session, Configs.of(state.settings), user, q=q, kind=kind or "", tier=tier)


@router.get(
    "/providers/{provider_id}/view",
    response_model=ProviderView,
    summary="One provider as its page shows it: tier lines, evaluation parts, clients, "
    "warnings and exits awaiting a person, applications",
)
def provider_page_view(
    provider_id: ProviderInScope,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    rm: ReadModelDep,
) -> ProviderView:
    return provider_view(session, Configs.of(state.settings), user, provider_id, rm)


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


@router.post(
    "/decisions/{decision_id}",
    response_model=DecisionPublic,
    summary="Confirm or dismiss a proposed warning or exit (admin; audited)",
    responses=responses(400, 403, 409),
)
def review_exit(
    decision_id: RowId, body: ExitReview, user: CurrentUser, session: SessionDep
) -> DecisionPublic:
    taken = service.confirm_exit(session, user, decision_id, note=body.note, outcome=body.outcome)
    return DecisionPublic.model_validate(taken)


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
        body.to_application(),
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
