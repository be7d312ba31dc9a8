"""The records the provider workflow returns, and the provider statuses its rules turn on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from windmaker.ecosystem.evaluation import ProviderEvaluation
from windmaker.ecosystem.exit import ExitProposal
from windmaker.ecosystem.tiers import TierCount, TierStanding
from windmaker.i18n import reason_text
from windmaker.store.models import Application, Decision, Provider


def reason_line(reason: Mapping[str, Any], lang: str) -> str:
    """One stored reason (of an admission, an evaluation, a warning or an exit) in ``lang``.

    Reasons are stored as a ``code`` with its ``params`` and rendered here, at the edge. Rows
    stored before reasons were codes carry their text (``message``, ``message_zh``): that text
    is shown as it was written.
    """
    code = reason.get("code")
    if code:
        return reason_text(code, reason.get("params"), lang)
    zh = reason.get("message_zh")
    if zh and lang.lower().startswith("zh"):
        return str(zh)
    return str(reason.get("message") or zh or "")


#: Provider statuses from which an application may be filed (again).
MAY_APPLY = ("applicant", "rejected")
#: Provider statuses that are evaluated every period.
EVALUATED = ("admitted", "probation", "warned")
#: Provider statuses that take new clients in the matching.
MATCHABLE = ("admitted", "probation")


@dataclass(frozen=True)
class ProviderRecord:
    """A provider of the registry as the use cases return it."""

    provider_id: str
    name: str
    kind: str
    capabilities: tuple[str, ...]
    categories: tuple[str, ...]
    capacity: int
    team_size: int
    gmv_served_12m: Decimal
    founded_at: date | None
    status: str

    @classmethod
    def of(cls, p: Provider) -> ProviderRecord:
        return cls(
            provider_id=p.provider_id,
            name=p.name,
            kind=p.kind,
            capabilities=tuple(p.capabilities),
            categories=tuple(p.categories),
            capacity=p.capacity,
            team_size=p.team_size,
            gmv_served_12m=p.gmv_served_12m,
            founded_at=p.founded_at,
            status=p.status,
        )


@dataclass(frozen=True)
class ApplicationRecord:
    """An admission application (准入申请) with its declared qualifications."""

    id: int
    provider_id: str
    submitted_at: datetime
    qualifications: dict[str, Any]
    status: str

    @classmethod
    def of(cls, a: Application) -> ApplicationRecord:
        return cls(a.id, a.provider_id, a.submitted_at, dict(a.qualifications), a.status)


@dataclass(frozen=True)
class DecisionRecord:
    """A decision about a provider (admission, warning, exit): proposed, then taken by a person."""

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
    proposed_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, d: Decision) -> DecisionRecord:
        return cls(
            id=d.id,
            provider_id=d.provider_id,
            application_id=d.application_id,
            kind=d.kind,
            period=d.period,
            proposed_outcome=d.proposed_outcome,
            reasons=list(d.reasons),
            status=d.status,
            outcome=d.outcome,
            reviewer=d.reviewer,
            note=d.note,
            proposed_at=d.proposed_at,
            decided_at=d.decided_at,
        )


@dataclass(frozen=True)
class ApplicationReview:
    """An application with the system's proposal; ``below_standard`` names the criteria that
    did not meet the admission standard (set when the application was just scored)."""

    application: ApplicationRecord
    proposal: DecisionRecord
    below_standard: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvaluationRecord:
    """One provider's stored evaluation of one period (服务商考核)."""

    provider_id: str
    period: date
    gmv_served: Decimal
    score: float
    meets_standard: bool
    severe_violation: bool
    metrics: dict[str, Any]
    reasons: list[dict[str, Any]]


@dataclass(frozen=True)
class AssignmentRecord:
    """A provider serving a brand from ``started_at`` (to ``ended_at``)."""

    id: int
    provider_id: str
    brand_id: str
    started_at: date
    ended_at: date | None
    source: str


@dataclass(frozen=True)
class EvaluationRun:
    """A period's evaluation: every provider's result, and the warnings and exits proposed."""

    period: date
    evaluations: tuple[ProviderEvaluation, ...]
    proposals: tuple[ExitProposal, ...]


@dataclass(frozen=True)
class TierBoard:
    """The windmaker plan (造风者计划): providers per tier against the targets, who is closest to
    the next tier, and every provider's standing; ``source`` says how annual GMV was taken."""

    source: str
    tiers: tuple[TierCount, ...]
    closest: dict[str, tuple[TierStanding, ...]]
    standings: tuple[TierStanding, ...]


@dataclass(frozen=True)
class MatchRun:
    """The portfolio's matching for ``period``: one row per match with its reasons
    (``matches``), the brands left unmatched, and whether the matches were recorded."""

    period: date
    matches: pd.DataFrame = field(repr=False)
    unmatched: pd.DataFrame = field(repr=False)
    total_benefit: float
    recorded: int


@dataclass(frozen=True)
class LoadResult:
    """What an import of providers and assignments changed."""

    providers: int
    new_providers: int
    new_assignments: int
