"""The ecosystem's read model: the windmaker-plan board and one provider's standing, as typed
records the API answers (its OpenAPI schema describes them field by field) and the ecosystem
and provider pages render.

Both are built from the provider workflow's results (:mod:`windmaker.services.providers`), so
scope is the workflow's: tier counts are public, single standings only for admins, operators
and the provider itself. Money is answered as a JSON number of yuan.

The registry (:func:`registry_view`) adds to each provider its tier, latest evaluation score,
current clients against its capacity and annual GMV served; the provider page
(:func:`provider_view`) the parts of the latest evaluation against their standard and weight,
the progress towards every tier line, each client's name, stage and GMV change since it was
assigned, the warnings and exits waiting for a person, and the provider's applications.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from windmaker import results
from windmaker.codes import Stage
from windmaker.ecosystem.evaluation import METRICS
from windmaker.ecosystem.tiers import TierCount, TierStanding
from windmaker.services import providers
from windmaker.services.configs import Configs
from windmaker.services.identity import Principal
from windmaker.views.readmodel import ReadModel
from windmaker.views.records import Timestamp


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


class RegistryRow(BaseModel):
    """One provider of the registry (服务商名录) with what an operator compares them on."""

    provider_id: str
    name: str
    kind: str
    status: str
    tier: str | None = Field(description="Highest tier reached (None: below every tier)")
    latest_period: date | None = Field(description="Month of the latest evaluation")
    latest_score: float | None = Field(
        description="Latest composite evaluation score (0 = the median provider)"
    )
    meets_standard: bool | None
    clients: int = Field(description="Brands served now (assignments not ended)")
    capacity: int = Field(description="Brands the provider can take")
    annual_gmv_served: float = Field(description="GMV served over the trailing 12 months (yuan)")


class RegistryView(BaseModel):
    """The registry as ``user`` may see it, searched and filtered; ``total`` before filtering."""

    rows: list[RegistryRow]
    total: int
    q: str = ""
    kind: str = ""
    tier: str = Field(default="", description="A tier code, 'none' (below every tier) or ''")
    tier_codes: list[str] = Field(description="The plan's tiers, highest first")


class EvaluationPart(BaseModel):
    """One part of an evaluation: a metric, its standard (a bound) and its weight in the score."""

    metric: str
    value: float | None
    minimum: float | None = None
    maximum: float | None = None
    weight: float | None = Field(
        default=None, description="Weight in the composite score (negative: lower is better)"
    )
    meets: bool | None = Field(default=None, description="None: no standard or no value")


class TierLine(BaseModel):
    """Progress of a provider's annual GMV served towards one tier's threshold."""

    code: str
    threshold: float
    progress: float = Field(description="Annual GMV served / threshold, capped at 1")
    reached: bool


class ClientRow(BaseModel):
    """A client brand as the provider page lists it: name, stage and GMV change since it was
    assigned (its first month served against its latest full month)."""

    brand_id: str
    name: str | None
    stage: str | None
    started_at: date
    ended_at: date | None
    base_period: date | None = None
    base_gmv: float | None = None
    latest_period: date | None = None
    latest_gmv: float | None = None
    gmv_change: float | None = Field(default=None, description="latest_gmv / base_gmv - 1")


class ProposalRow(BaseModel):
    """A warning or exit the evaluation proposed, waiting for a person."""

    id: int
    kind: str
    period: date | None
    proposed_outcome: str
    reasons: list[dict[str, Any]]
    proposed_at: Timestamp

    @classmethod
    def of(cls, d: providers.DecisionRecord) -> ProposalRow:
        return cls(
            id=d.id,
            kind=d.kind,
            period=d.period,
            proposed_outcome=d.proposed_outcome,
            reasons=d.reasons,
            proposed_at=d.proposed_at,
        )


class ApplicationRow(BaseModel):
    """One of a provider's applications: when, its status, the proposal and the decision."""

    id: int
    submitted_at: Timestamp
    status: str
    proposed_outcome: str
    outcome: str | None

    @classmethod
    def of(cls, r: providers.ApplicationReview) -> ApplicationRow:
        return cls(
            id=r.application.id,
            submitted_at=r.application.submitted_at,
            status=r.application.status,
            proposed_outcome=r.proposal.proposed_outcome,
            outcome=r.proposal.outcome,
        )


class ProviderView(BaseModel):
    """One provider as its page shows it: the registry record, its tier standing (tier and
    distance to the next), its evaluations with their summary and the latest one's parts, its
    client brands, the warnings and exits waiting for a person, and its applications."""

    provider: providers.ProviderRecord
    standing: TierStandingView | None
    summary: EvaluationSummary
    evaluations: list[providers.EvaluationRecord]
    clients: list[providers.AssignmentRecord]
    tier_lines: list[TierLine] = Field(default_factory=list)
    parts: list[EvaluationPart] = Field(default_factory=list)
    client_rows: list[ClientRow] = Field(default_factory=list)
    proposals: list[ProposalRow] = Field(default_factory=list)
    applications: list[ApplicationRow] = Field(default_factory=list)

    @property
    def tier(self) -> str | None:
        return self.standing.tier if self.standing else None

    @property
    def gap_to_next(self) -> float | None:
        return self.standing.gap_to_next if self.standing else None

    @property
    def active_clients(self) -> list[providers.AssignmentRecord]:
        return [a for a in self.clients if a.ended_at is None]

    @property
    def latest(self) -> providers.EvaluationRecord | None:
        return max(self.evaluations, key=lambda e: e.period) if self.evaluations else None


def tier_board(
    session: Session, configs: Configs, user: Principal, *, per_tier: int = 10
) -> TierBoardView:
    """The windmaker-plan board as ``user`` may see it."""
    return TierBoardView.of(providers.tiers(session, configs, user, per_tier=per_tier))


def registry_view(
    session: Session,
    configs: Configs,
    user: Principal,
    *,
    q: str = "",
    kind: str = "",
    tier: str = "",
) -> RegistryView:
    """The registry in ``user``'s scope, largest annual GMV served first; ``q`` searches the
    name and id, ``kind`` and ``tier`` (a code or ``none``) filter."""
    records = providers.providers_in_scope(session, user)
    board = providers.tiers(session, configs, user, per_tier=1)
    standings = {s.provider_id: s for s in board.standings}
    latest = providers.latest_evaluations(session, user)
    clients = providers.client_counts(session, user)
    rows = []
    for p in records:
        s = standings.get(p.provider_id)
        e = latest.get(p.provider_id)
        rows.append(
            RegistryRow(
                provider_id=p.provider_id,
                name=p.name,
                kind=p.kind,
                status=p.status,
                tier=s.tier if s else None,
                latest_period=e.period if e else None,
                latest_score=e.score if e else None,
                meets_standard=e.meets_standard if e else None,
                clients=clients.get(p.provider_id, 0),
                capacity=p.capacity,
                annual_gmv_served=float(s.annual_gmv_served) if s else 0.0,
            )
        )
    total = len(rows)
    needle = q.strip().lower()
    if needle:
        rows = [r for r in rows if needle in r.name.lower() or needle in r.provider_id.lower()]
    if kind:
        rows = [r for r in rows if r.kind == kind]
    if tier:
        rows = [r for r in rows if (r.tier or "none") == tier]
    rows.sort(key=lambda r: (-r.annual_gmv_served, r.provider_id))
    return RegistryView(
        rows=rows,
        total=total,
        q=q.strip(),
        kind=kind,
        tier=tier,
        tier_codes=[c.code for c in board.tiers],
    )


def _parts(configs: Configs, latest: providers.EvaluationRecord | None) -> list[EvaluationPart]:
    """The latest evaluation's metrics, each with its standard and its weight in the score."""
    if latest is None:
        return []
    cfg = configs.ecosystem.evaluation
    out = []
    for metric in METRICS:
        raw = latest.metrics.get(metric)
        value = None if raw is None else float(raw)
        bound = cfg.standards.get(metric)  # type: ignore[call-overload]
        weight = cfg.weights.get(metric)  # type: ignore[call-overload]
        if bound is None and weight is None:
            continue
        meets = None
        if bound is not None and value is not None:
            meets = not (
                (bound.min is not None and value < bound.min)
                or (bound.max is not None and value > bound.max)
            )
        out.append(
            EvaluationPart(
                metric=metric,
                value=value,
                minimum=bound.min if bound else None,
                maximum=bound.max if bound else None,
                weight=weight,
                meets=meets,
            )
        )
    return out


def _tier_lines(configs: Configs, standing: TierStandingView | None) -> list[TierLine]:
    """Progress towards every tier line of the plan, lowest line first."""
    gmv = standing.annual_gmv_served if standing else 0.0
    lines = sorted(configs.ecosystem.tiers, key=lambda t: t.min_annual_gmv_served)
    return [
        TierLine(
            code=t.code,
            threshold=t.min_annual_gmv_served,
            progress=min(1.0, gmv / t.min_annual_gmv_served),
            reached=gmv >= t.min_annual_gmv_served,
        )
        for t in lines
    ]


def _month(d: date) -> date:
    return date(d.year, d.month, 1)


def client_rows(
    readmodel: ReadModel, assignments: list[providers.AssignmentRecord]
) -> list[ClientRow]:
    """Each assignment's brand with its name, latest stage and GMV change since assignment:
    net GMV of its latest full month served against the month it was assigned (or the first
    month of the data, when the assignment is older)."""
    snap = readmodel.snap
    out = []
    for a in sorted(assignments, key=lambda a: (a.ended_at is not None, a.started_at)):
        brand = snap.brands_by_id.get(a.brand_id) or {}
        stages = snap.brand_rows(results.STAGE, a.brand_id)
        stage = None
        if not stages.empty:
            stage = str(stages.sort_values("period").iloc[-1]["stage"])
        row = ClientRow(
            brand_id=a.brand_id,
            name=brand.get("name"),
            stage=stage,
            started_at=a.started_at,
            ended_at=a.ended_at,
        )
        months = snap.brand_rows(results.BRAND_MONTH, a.brand_id)
        if not months.empty:
            full = months
            if "to_date" in months.columns:
                full = months[~months["to_date"].fillna(False).astype(bool)]
            if a.ended_at is not None:
                full = full[full["period"] <= _month(a.ended_at)]
            if not full.empty:
                full = full.sort_values("period")
                base = full[full["period"] >= _month(a.started_at)].head(1)
                base = base if not base.empty else full.head(1)
                last = full.iloc[-1]
                first = base.iloc[0]
                base_gmv = None if pd.isna(first["net_gmv"]) else float(first["net_gmv"])
                latest_gmv = None if pd.isna(last["net_gmv"]) else float(last["net_gmv"])
                change = None
                if base_gmv and latest_gmv is not None and last["period"] > first["period"]:
                    change = latest_gmv / base_gmv - 1 if base_gmv > 0 else None
                row = row.model_copy(
                    update={
                        "base_period": first["period"],
                        "base_gmv": base_gmv,
                        "latest_period": last["period"],
                        "latest_gmv": latest_gmv,
                        "gmv_change": change,
                    }
                )
        out.append(row)
    return out


def provider_view(
    session: Session,
    configs: Configs,
    user: Principal,
    provider_id: str,
    readmodel: ReadModel | None = None,
) -> ProviderView:
    """One provider in ``user``'s scope (else the workflow's not found); with ``readmodel``
    its clients carry their names, stages and GMV change since assignment."""
    record = providers.provider(session, user, provider_id)
    evaluations = providers.evaluations(session, user, provider_id)
    board = providers.tiers(session, configs, user, per_tier=1)
    found = next((s for s in board.standings if s.provider_id == provider_id), None)
    standing = TierStandingView.of(found) if found else None
    assignments = providers.assignments(session, user, provider_id)
    latest = max(evaluations, key=lambda e: e.period) if evaluations else None
    return ProviderView(
        provider=record,
        standing=standing,
        summary=EvaluationSummary.of(evaluations),
        evaluations=evaluations,
        clients=assignments,
        tier_lines=_tier_lines(configs, standing),
        parts=_parts(configs, latest),
        client_rows=client_rows(readmodel, assignments) if readmodel is not None else [],
        proposals=[
            ProposalRow.of(d) for d in providers.open_exit_proposals(session, user, provider_id)
        ],
        applications=[
            ApplicationRow.of(r)
            for r in providers.provider_applications(session, user, provider_id)
        ],
    )


#: Months between the two ends of the ecosystem page's stage flows.
FLOW_MONTHS = 3


def _stages(rm: ReadModel, scope: set[str] | None) -> pd.DataFrame:
    """The diagnosed stages of ``scope`` (None: every brand), one row per brand and month."""
    frame = rm.snap.frame(results.STAGE)
    if frame.empty:
        return frame
    if scope is not None:
        frame = frame[frame["brand_id"].isin(scope)]
    frame = frame.dropna(subset=["stage"]).copy()
    frame["period"] = pd.to_datetime(frame["period"]).dt.date
    return frame


def stage_moves(
    rm: ReadModel, scope: set[str] | None, months: int = FLOW_MONTHS
) -> tuple[date | None, date | None, list[dict[str, Any]]]:
    """Where the brands of ``scope`` went over the last ``months`` diagnosed months: each brand
    diagnosed at both ends counted once, from its stage then to its stage now (stayers too).

    Returns the first month, the last month and ``source, target, brands`` rows; a scope with
    one diagnosed month only has no flows.
    """
    stages = _stages(rm, scope)
    periods = sorted(set(stages["period"])) if not stages.empty else []
    if len(periods) < 2:
        return None, None, []
    end = periods[-1]
    start = periods[max(0, len(periods) - 1 - months)]
    at_start = stages[stages["period"] == start].set_index("brand_id")["stage"]
    at_end = stages[stages["period"] == end].set_index("brand_id")["stage"]
    both = pd.DataFrame({"source": at_start, "target": at_end}).dropna()
    counts = both.groupby(["source", "target"]).size().rename("brands").reset_index()
    rows = [
        {"source": str(r.source), "target": str(r.target), "brands": int(r.brands)}
        for r in counts.itertuples()
    ]
    return start, end, rows


class StageChange(BaseModel):
    """A brand whose stage differs between the last two diagnosed months."""

    brand_id: str
    brand_name: str
    before: str
    after: str
    up: bool = Field(description="Whether the brand climbed the ladder")


class RefreshChanges(BaseModel):
    """What the latest diagnosis changed in a scope: stage moves from the month before to the
    latest month, and the trust alerts raised in the latest month."""

    previous: date | None
    latest: date | None
    stage_changes: list[StageChange]
    new_alerts: list[dict[str, Any]]


def refresh_changes(rm: ReadModel, scope: set[str] | None, limit: int = 50) -> RefreshChanges:
    """Brands of ``scope`` whose stage changed between the last two diagnosed months (climbs
    first), and the trust alerts of the latest month on a brand that had none the month
    before. Read from the read model, so it says what the last refresh's diagnosis found."""
    order: dict[str, int] = {str(s): i for i, s in enumerate(Stage)}
    stages = _stages(rm, scope)
    periods = sorted(set(stages["period"])) if not stages.empty else []
    if len(periods) < 2:
        return RefreshChanges(
            previous=None, latest=periods[-1] if periods else None, stage_changes=[], new_alerts=[]
        )
    previous, latest = periods[-2], periods[-1]
    before = stages[stages["period"] == previous].set_index("brand_id")["stage"]
    after = stages[stages["period"] == latest].set_index("brand_id")["stage"]
    changes: list[StageChange] = []
    for brand_id, stage in after.items():
        was = before.get(brand_id)
        if was is None or was == stage:
            continue
        brand = rm.brand(str(brand_id)) or {}
        changes.append(
            StageChange(
                brand_id=str(brand_id),
                brand_name=str(brand.get("name") or brand_id),
                before=str(was),
                after=str(stage),
                up=order.get(str(stage), 0) > order.get(str(was), 0),
            )
        )
    changes.sort(key=lambda c: (not c.up, c.brand_id))
    alerts = rm.snap.frame(results.TRUST_ALERTS)
    new_alerts: list[dict[str, Any]] = []
    if not alerts.empty:
        if scope is not None:
            alerts = alerts[alerts["brand_id"].isin(scope)]
        alerts = alerts.copy()
        alerts["period"] = pd.to_datetime(alerts["period"]).dt.date
        old = set(alerts[alerts["period"] == previous]["brand_id"])
        for r in alerts[alerts["period"] == latest].sort_values("brand_id").itertuples():
            if r.brand_id in old:
                continue
            brand = rm.brand(str(r.brand_id)) or {}
            new_alerts.append(
                {
                    "brand_id": str(r.brand_id),
                    "brand_name": str(brand.get("name") or r.brand_id),
                    "kind": str(r.kind),
                    "severe": bool(r.severe),
                }
            )
    return RefreshChanges(
        previous=previous,
        latest=latest,
        stage_changes=changes[:limit],
        new_alerts=new_alerts[:limit],
    )
