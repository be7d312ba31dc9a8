"""The ecosystem's read model: the windmaker-plan board and one provider's standing, as typed
records the API answers (its OpenAPI schema describes them field by field) and the ecosystem
and provider pages render.

Both are built from the provider workflow's results (:mod:`windmaker.services.providers`), so
scope is the workflow's: tier counts are public, single standings only for admins, operators
and the provider itself. Money is answered as a JSON number of yuan.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from windmaker.ecosystem.tiers import TierCount, TierStanding
from windmaker.services import providers
from windmaker.services.configs import Configs
from windmaker.services.identity import Principal


class TierRow(BaseModel):
    """One tier of the windmaker plan (造风者计划) against its target."""

    code: str
    name_en: str
    name_zh: str
    threshold: float = Field(description="Annual GMV served (yuan) that reaches the tier")
    target: int = Field(description="Providers the plan aims to have at or above the tier")
    in_tier: int = Field(description="Providers in exactly this tier")
    at_or_above: int = Field(description="Providers at or above the threshold")
    progress: float = Field(description="at_or_above as a share of the target (1 = met)")

    @classmethod
    def of(cls, count: TierCount) -> TierRow:
        return cls(
            code=count.code,
            name_en=count.name_en,
            name_zh=count.name_zh,
            threshold=float(count.threshold),
            target=count.target,
            in_tier=count.in_tier,
            at_or_above=count.at_or_above,
            progress=count.progress,
        )

    def name(self, lang: str) -> str:
        """The tier's name in ``lang``, as the ecosystem configuration writes it."""
        return self.name_zh if lang.lower().startswith("zh") else self.name_en


class TierStandingView(BaseModel):
    """A provider's tier by trailing-12-month GMV served, and its distance to the next tier."""

    provider_id: str
    annual_gmv_served: float
    tier: str | None = Field(description="Highest tier reached (None: below every tier)")
    next_tier: str | None = Field(description="The tier above (None: at the top)")
    gap_to_next: float | None = Field(description="GMV (yuan) still missing for the next tier")
    progress_to_next: float | None = Field(description="GMV served / next tier's threshold")

    @classmethod
    def of(cls, s: TierStanding) -> TierStandingView:
        return cls(
            provider_id=s.provider_id,
            annual_gmv_served=float(s.annual_gmv_served),
            tier=s.tier,
            next_tier=s.next_tier,
            gap_to_next=None if s.gap_to_next is None else float(s.gap_to_next),
            progress_to_next=s.progress_to_next,
        )


class TierBoardView(BaseModel):
    """The windmaker-plan board: providers per tier against the targets, for each next tier the
    providers closest to it, and every standing the caller may see."""

    tiers: list[TierRow]
    closest: dict[str, list[TierStandingView]]
    standings: list[TierStandingView]

    @classmethod
    def of(cls, board: providers.TierBoard) -> TierBoardView:
        return cls(
            tiers=[TierRow.of(c) for c in board.tiers],
            closest={k: [TierStandingView.of(s) for s in v] for k, v in board.closest.items()},
            standings=[TierStandingView.of(s) for s in board.standings],
        )

    def standing(self, provider_id: str) -> TierStandingView | None:
        return next((s for s in self.standings if s.provider_id == provider_id), None)


class EvaluationSummary(BaseModel):
    """A provider's evaluation history (服务商考核) in a few numbers."""

    periods: int = Field(description="Periods evaluated")
    latest_period: date | None = None
    latest_score: float | None = None
    meets_standard: bool | None = Field(default=None, description="Whether the latest period did")
    below_standard_streak: int = Field(
        default=0, description="Latest periods in a row below the standard (what warnings count)"
    )
    severe_violations: int = Field(default=0, description="Periods with a severe trust violation")

    @classmethod
    def of(cls, evaluations: list[providers.EvaluationRecord]) -> EvaluationSummary:
        ordered = sorted(evaluations, key=lambda e: e.period)
        if not ordered:
            return cls(periods=0)
        streak = 0
        for e in reversed(ordered):
            if e.meets_standard:
                break
            streak += 1
        latest = ordered[-1]
        return cls(
            periods=len(ordered),
            latest_period=latest.period,
            latest_score=latest.score,
            meets_standard=latest.meets_standard,
            below_standard_streak=streak,
            severe_violations=sum(1 for e in ordered if e.severe_violation),
        )


class ProviderView(BaseModel):
    """One provider as its page shows it: the registry record, its tier standing (tier and
    distance to the next), its evaluations with their summary, and its client brands."""

    provider: providers.ProviderRecord
    standing: TierStandingView | None
    summary: EvaluationSummary
    evaluations: list[providers.EvaluationRecord]
    clients: list[providers.AssignmentRecord]

    @property
    def tier(self) -> str | None:
        return self.standing.tier if self.standing else None

    @property
    def gap_to_next(self) -> float | None:
        return self.standing.gap_to_next if self.standing else None

    @property
    def active_clients(self) -> list[providers.AssignmentRecord]:
        return [a for a in self.clients if a.ended_at is None]


def tier_board(
    session: Session, configs: Configs, user: Principal, *, per_tier: int = 10
) -> TierBoardView:
    """The windmaker-plan board as ``user`` may see it."""
    return TierBoardView.of(providers.tiers(session, configs, user, per_tier=per_tier))


def provider_view(
    session: Session, configs: Configs, user: Principal, provider_id: str
) -> ProviderView:
    """One provider in ``user``'s scope (else the workflow's not found)."""
    record = providers.provider(session, user, provider_id)
    evaluations = providers.evaluations(session, user, provider_id)
    board = providers.tiers(session, configs, user, per_tier=1)
    standing = next((s for s in board.standings if s.provider_id == provider_id), None)
    return ProviderView(
        provider=record,
        standing=TierStandingView.of(standing) if standing else None,
        summary=EvaluationSummary.of(evaluations),
        evaluations=evaluations,
        clients=providers.assignments(session, user, provider_id),
    )
