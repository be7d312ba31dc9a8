"""Providers: registry, admission applications and decisions, evaluations, assignments, tiers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from windmaker import contract
from windmaker.api.deps import AdminUser, CurrentUser, ProviderInScope, SessionDep, StateDep
from windmaker.api.errors import ERROR_RESPONSES, ApiError, not_found, responses
from windmaker.api.schemas import RowId, Timestamp
from windmaker.api.security import Principal
from windmaker.ecosystem.admission import ProviderApplication, score_application
from windmaker.ecosystem.config import load_config
from windmaker.store import (
    AlreadyDecidedError,
    decide_application,
    get_application,
    list_assignments,
    list_decisions,
    list_evaluations,
    list_providers,
    review_queue,
    submit_application,
    upsert_provider,
)
from windmaker.store.errors import InvalidValueError
from windmaker.store.models import PROVIDER_KINDS, Application, Decision, Provider

router = APIRouter(tags=["providers"], responses=ERROR_RESPONSES)

Kind = Literal[
    "brand_operation", "influencer_agency", "traffic_agency", "supply_chain", "full_service"
]
Capability = Literal[
    "self_operation", "traffic", "distribution", "private_domain", "special_supply"
]
assert set(PROVIDER_KINDS) == set(Kind.__args__)  # type: ignore[attr-defined]
assert set(contract.CAPABILITIES) == set(Capability.__args__)  # type: ignore[attr-defined]


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


class EvaluationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    provider_id: str
    period: date
    gmv_served: Decimal
    score: float
    meets_standard: bool
    severe_violation: bool
    metrics: dict[str, Any]
    reasons: list[dict[str, Any]]


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
    reasons: list[dict[str, Any]]
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
    application: ApplicationPublic
    proposal: DecisionPublic


class ApplicationCreate(BaseModel):
    """An admission application (准入申请)."""

    provider_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    capabilities: list[Capability] = Field(min_length=1, max_length=5)
    categories: list[str] = Field(min_length=1, max_length=50)
    team_size: int = Field(ge=0, le=1_000_000)
    gmv_served_12m: Decimal = Field(ge=0, le=Decimal("1e15"), decimal_places=2)
    capacity: int = Field(ge=0, le=100_000)
    cases: list[str] = Field(default_factory=list, max_length=100)
    founded_at: date | None = None


class DecisionCreate(BaseModel):
    decision: Literal["admitted", "probation", "rejected"]
    note: str = Field(default="", max_length=2000)


def _visible_provider_ids(user: Principal, providers: list[Provider]) -> list[Provider]:
    return [p for p in providers if user.sees_provider(p.provider_id)]


@router.get(
    "/providers", response_model=list[ProviderPublic], summary="Provider registry (in scope)"
)
def registry(
    user: CurrentUser, session: SessionDep, status: str | None = None
) -> list[ProviderPublic]:
    providers = list_providers(session, statuses=[status] if status else None)
    return [ProviderPublic.model_validate(p) for p in _visible_provider_ids(user, providers)]


@router.get("/providers/{provider_id}", response_model=ProviderPublic, summary="One provider")
def provider(provider_id: ProviderInScope, session: SessionDep) -> ProviderPublic:
    return ProviderPublic.model_validate(session.get(Provider, provider_id))


@router.get(
    "/providers/{provider_id}/evaluations",
    response_model=list[EvaluationPublic],
    summary="Evaluation history",
)
def evaluations(provider_id: ProviderInScope, session: SessionDep) -> list[EvaluationPublic]:
    return [
        EvaluationPublic.model_validate(e)
        for e in list_evaluations(session, provider_id=provider_id)
    ]


@router.get(
    "/providers/{provider_id}/assignments",
    response_model=list[AssignmentPublic],
    summary="Client brands over time",
)
def assignments(
    provider_id: ProviderInScope, user: CurrentUser, session: SessionDep
) -> list[AssignmentPublic]:
    rows = list_assignments(session, provider_id=provider_id)
    return [
        AssignmentPublic.model_validate(a)
        for a in rows
        if user.role != "operator" or user.sees_brand(a.brand_id)
    ]


@router.get(
    "/decisions",
    response_model=list[DecisionPublic],
    summary="Decisions (proposed and confirmed) in scope",
)
def decisions(
    user: CurrentUser,
    session: SessionDep,
    status: Literal["proposed", "confirmed", "overridden"] | None = None,
    kind: Literal["admission", "warning", "exit"] | None = None,
) -> list[DecisionPublic]:
    if user.role == "brand":
        return []
    provider_id = user.provider_id if user.role == "provider" else None
    rows = list_decisions(session, status=status, kind=kind, provider_id=provider_id)
    if user.role == "provider" and provider_id is None:
        return []
    return [DecisionPublic.model_validate(d) for d in rows]


@router.get(
    "/applications",
    response_model=list[ApplicationWithProposal],
    summary="Admission review queue (in scope)",
)
def applications(user: CurrentUser, session: SessionDep) -> list[ApplicationWithProposal]:
    if user.role == "brand":
        return []
    out = []
    for app, proposal in review_queue(session):
        if user.role == "provider" and app.provider_id != user.provider_id:
            continue
        out.append(
            ApplicationWithProposal(
                application=ApplicationPublic.model_validate(app),
                proposal=DecisionPublic.model_validate(proposal),
            )
        )
    return out


def _application_in_scope(application_id: int, user: Principal, session: Any) -> Application:
    try:
        app = get_application(session, application_id=application_id)
    except LookupError:
        raise not_found() from None
    if user.role == "brand" or (user.role == "provider" and app.provider_id != user.provider_id):
        raise not_found()
    return app


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationWithProposal,
    summary="One application and its proposal",
)
def application(
    application_id: RowId, user: CurrentUser, session: SessionDep
) -> ApplicationWithProposal:
    from windmaker.store import admission_proposal

    app = _application_in_scope(application_id, user, session)
    proposal = admission_proposal(session, application_id=app.id)
    return ApplicationWithProposal(
        application=ApplicationPublic.model_validate(app),
        proposal=DecisionPublic.model_validate(proposal),
    )


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
    if user.role not in ("admin", "provider"):
        raise ApiError(403, "forbidden")
    if user.role == "provider" and body.provider_id != user.provider_id:
        raise not_found()
    existing = session.get(Provider, body.provider_id)
    if (
        existing is not None
        and existing.status not in ("applicant", "rejected")
        and user.role != "admin"
    ):
        raise ApiError(409, "conflict", reason=f"{body.provider_id} is already {existing.status}")
    cfg = load_config(state.settings.config_path)
    data = body.model_dump()
    result = score_application(ProviderApplication.from_dict(data), cfg.admission)
    upsert_provider(
        session,
        provider_id=body.provider_id,
        name=body.name,
        kind=body.kind,
        capabilities=body.capabilities,
        categories=body.categories,
        capacity=body.capacity,
        team_size=body.team_size,
        gmv_served_12m=body.gmv_served_12m,
        founded_at=body.founded_at,
        status=existing.status if existing is not None else "applicant",
        actor=user.username,
        reason="admission application",
    )
    qualifications = {k: (str(v) if isinstance(v, Decimal | date) else v) for k, v in data.items()}
    app = submit_application(
        session,
        provider_id=body.provider_id,
        qualifications=qualifications,
        proposed_outcome=result.outcome,
        reasons=result.reasons,
        actor=user.username,
    )
    return application(app.id, user, session)


@router.post(
    "/applications/{application_id}/decision",
    response_model=DecisionPublic,
    summary="Decide an application (admin): admitted, probation or rejected",
    responses=responses(400, 403, 409),
)
def decide(
    application_id: RowId, body: DecisionCreate, user: AdminUser, session: SessionDep
) -> DecisionPublic:
    _application_in_scope(application_id, user, session)
    try:
        decision: Decision = decide_application(
            session,
            application_id=application_id,
            decision=body.decision,
            reviewer=user.username,
            note=body.note,
        )
    except AlreadyDecidedError as exc:
        raise ApiError(409, "conflict", reason=str(exc)) from None
    except InvalidValueError as exc:
        raise ApiError(
            422, "validation", detail=[{"loc": ["body", "decision"], "msg": str(exc)}]
        ) from None
    return DecisionPublic.model_validate(decision)


@router.get(
    "/tiers",
    summary="Windmaker-plan tiers: providers per tier against targets, closest to the next",
)
def tiers(
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    per_tier: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    from windmaker.api.ecosystem_view import tier_view

    view = tier_view(state, session, per_tier=per_tier)
    if user.role == "provider":
        view["closest"] = {
            k: [s for s in v if s["provider_id"] == user.provider_id]
            for k, v in view["closest"].items()
        }
        view["standings"] = [s for s in view["standings"] if s["provider_id"] == user.provider_id]
    elif user.role == "brand":
        view["closest"], view["standings"] = {}, []
    return view
