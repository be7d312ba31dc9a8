"""The typed records every surface shows: the API answers them, the pages and reports render
them, ``windmaker diagnose BRAND --json`` prints them.

Each record names the columns of the result table it comes from, so the OpenAPI schema
describes the scorecard and the diagnosis field by field. Records accept columns they do not
name (``extra="allow"``): a result table that gains a column passes it through instead of
failing the answer. Coded fields are typed with the enums of :mod:`windmaker.codes` (the
OpenAPI schema lists their values) and hold the plain code strings (``use_enum_values``), so
the JSON and the page contexts carry the same codes the tables store.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from windmaker.codes import Attention, Capability, Stage
from windmaker.i18n import reason_text, t

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _with_offset(value: datetime) -> datetime:
    """Stored timestamps are naive Asia/Shanghai wall clock; say so in the answer."""
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


#: A timestamp answered with its UTC offset: OpenAPI's ``date-time`` (RFC 3339) requires one,
#: and a client in another time zone must not read Shanghai wall clock as its own.
Timestamp = Annotated[datetime, AfterValidator(_with_offset)]


class _Open(BaseModel):
    """A record of a result table's row: named columns typed, further columns passed through."""

    model_config = ConfigDict(
        extra="allow", populate_by_name=True, serialize_by_alias=True, use_enum_values=True
    )


class _Coded(BaseModel):
    """A record with coded fields: validated against the enum, kept as the code string."""

    model_config = ConfigDict(use_enum_values=True)


class BrandRecord(_Open):
    """One row of ``brands``."""

    brand_id: str
    name: str | None = None
    category: str | None = None
    origin: str | None = None
    joined_at: Timestamp | None = None


class PortfolioRow(_Coded):
    """One brand in the operator's portfolio and the brand list: latest stage, attention, GMV
    at stake (``g_portfolio``), bottleneck (rank 1 of ``g_bottleneck``) and trust alert."""

    brand_id: str
    name: str | None = None
    category: str | None = None
    origin: str | None = None
    stage: Stage | None = None
    attention: Attention | None = None
    bottleneck: Capability | None = None
    gmv_at_stake: float | None = None
    priority: float | None = None
    net_gmv: float | None = None
    net_gmv_t90d: float | None = None
    trust_alert: bool = False


class CapabilityScore(_Coded):
    """One STEPS capability of the brand: the final index and score.

    Where fitted models are blended into the capability (``g_model_scores``: P and T in the
    models' month) ``index`` and ``score`` are the blended ones and ``metric_index`` /
    ``metric_score`` keep the metrics-only values of ``m_capability``; elsewhere they are equal.
    """

    capability: Capability
    index: float | None = None
    score: float | None = None
    #: ``category``: the percentile within the brand's category; ``all``: among every brand of
    #: the month, because the category is too small for a percentile of its own.
    benchmark: str | None = None
    metric_index: float | None = None
    metric_score: float | None = None
    #: Whether the models changed this score (the blended index or the re-ranked group).
    blended: bool = False


class _Reasoned(_Open):
    """A row with a domain reason: its text in both languages, rendered from the catalogue."""

    reason_code: str | None = None
    reason_params: str | None = None
    reason_en: str | None = None
    reason_zh: str | None = None

    @model_validator(mode="after")
    def _render_reason(self) -> _Reasoned:
        if self.reason_code:
            self.reason_en = reason_text(self.reason_code, self.reason_params, "en")
            self.reason_zh = reason_text(self.reason_code, self.reason_params, "zh-CN")
        return self


class StageRecord(_Reasoned):
    """One ``g_stage`` row: the stage, the stage the criteria alone gave, and why."""

    period: date
    stage: Stage
    brand_id: str | None = None
    category: str | None = None
    candidate_stage: Stage | None = None
    as_of: Timestamp | None = None
    days_covered: float | None = None
    to_date: bool | None = None


class UnjudgedRecord(_Reasoned):
    """One ``g_unjudged`` row: why a brand has no stage yet (insufficient history)."""

    period: date
    status: str
    brand_id: str | None = None
    category: str | None = None
    joined_at: date | None = None
    data_start: date | None = None
    judged_from: date | None = None


class BrandMetrics(_Open):
    """The brand's ``m_brand_month`` row (money in RMB; shares and rates as fractions)."""

    period: date | None = None
    brand_id: str | None = None
    category: str | None = None
    as_of: date | None = None
    days_covered: int | None = None
    to_date: bool | None = None
    net_gmv: float | None = None
    gross_gmv: float | None = None
    net_gmv_t30d: float | None = None
    net_gmv_t90d: float | None = None
    orders: int | None = None
    buyers: int | None = None
    aov: float | None = None
    months_with_sales: int | None = None
    self_gmv: float | None = None
    self_share: float | None = None
    live_hours: float | None = None
    self_gmv_per_live_hour: float | None = None
    paid_spend: float | None = None
    paid_gmv: float | None = None
    roas: float | None = None
    public_gmv: float | None = None
    public_share: float | None = None
    distribution_gmv: float | None = None
    distribution_share: float | None = None
    active_influencers: int | None = None
    top_influencer_share: float | None = None
    repurchase_rate: float | None = None
    repurchase_rate_90d: float | None = None
    follower_gmv: float | None = None
    follower_gmv_share: float | None = None
    new_follows: int | None = None
    special_supply_gmv: float | None = None
    special_supply_share: float | None = None
    special_supply_skus: int | None = None
    refund_rate: float | None = None
    complaints_per_1k: float | None = None
    late_shipment_rate: float | None = None
    review_score: float | None = None


class TrustScore(_Open):
    """The brand's ``mdl_trust_scores`` row: the score (0–100) and each part's value, category
    reference and points."""

    period: date | None = None
    brand_id: str | None = None
    category: str | None = None
    orders: int | None = None
    status: str | None = None
    score: float | None = None
    no_data: str | None = None
    refund_rate: float | None = None
    refund_rate_ref: float | None = None
    refund_rate_points: float | None = None
    complaints_per_1k: float | None = None
    complaints_per_1k_ref: float | None = None
    complaints_per_1k_points: float | None = None
    late_shipment_rate: float | None = None
    late_shipment_rate_ref: float | None = None
    late_shipment_rate_points: float | None = None
    review_shortfall: float | None = None
    review_shortfall_ref: float | None = None
    review_shortfall_points: float | None = None
    brushing_share: float | None = None
    brushing_share_ref: float | None = None
    brushing_share_points: float | None = None


class BrushingEvidence(BaseModel):
    """Flagged orders of the brand per confidence (high: left out of GMV; review) and the
    signals that fired."""

    brand_id: str | None = None
    confidence: str
    signals: str
    orders: int


class Scorecard(BaseModel):
    """The brand view: stage, STEPS scores (final, model-blended), key metrics and trust."""

    brand: BrandRecord | None
    period: date | None
    stage: StageRecord | None
    #: Why the brand has no stage yet (insufficient history), when it has none.
    unjudged: UnjudgedRecord | None = None
    capabilities: list[CapabilityScore]
    metrics: BrandMetrics
    trust: list[TrustScore] | None = None
    trust_alert: bool
    #: Brushing flags of the brand: orders per confidence (high / review) and signals fired.
    brushing_evidence: list[BrushingEvidence] = []


#: The brand view is the scorecard.
BrandView = Scorecard


class Bottleneck(_Open):
    """One ``g_bottleneck`` row: a capability's gap to the brands that made the next step.

    ``ranked_by = criterion``: a failed criterion of the next stage put it first (its numbers in
    ``criterion*``); otherwise ranked by ``gap`` on the index. ``weakness`` false: at or above
    its reference, never called a weakness.
    """

    capability: Capability
    rank: int
    period: date | None = None
    brand_id: str | None = None
    category: str | None = None
    gap: float | None = None
    reference: str | None = None
    brand_index: float | None = None
    target_index: float | None = None
    basis: str | None = None
    raw_gap: float | None = None
    scale: float | None = None
    weakness: bool | None = None
    ranked_by: str | None = None
    criterion: str | None = None
    criterion_value: float | None = None
    criterion_threshold: float | None = None
    criterion_shortfall: float | None = None
    metric: str | None = None
    metric_value: float | None = None
    metric_reference: float | None = None
    metric_basis: str | None = None


class PeerStep(_Open):
    """A peer brand of the category that made the same step, and how its metric moved."""

    brand_id: str
    from_: float | None = Field(None, alias="from")
    to: float | None = None
    months: int | None = None
    censored: bool | None = None


class PeerSummary(BaseModel):
    """The peers behind an action as a brand user reads them: how many made the step and
    their typical change as a range, never a peer's id or exact value.

    ``unit`` is ``points`` (a share or rate: percentage points) or ``percent`` (any other
    metric: relative change); ``low``..``high`` brackets the peers' median change, None when no
    peer has both ends of the step.
    """

    brands: int
    metric: str | None = None
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    text_en: str | None = None
    text_zh: str | None = None

    @model_validator(mode="after")
    def _render_text(self) -> PeerSummary:
        self.text_en = _peer_text(self, "en")
        self.text_zh = _peer_text(self, "zh-CN")
        return self


def _peer_text(s: PeerSummary, lang: str) -> str:
    """``12 brands made this step; their repurchase rate rose by 5–10 points``."""
    if s.low is None or s.high is None or s.unit is None:
        return t("evidence.peers_made_step", lang, brands=s.brands)
    rose = s.low >= 0
    low, high = (s.low, s.high) if rose else (-s.high, -s.low)
    return t(
        f"evidence.peers_{'rose' if rose else 'fell'}_{s.unit}",
        lang,
        brands=s.brands,
        metric=t(f"metric.{s.metric}", lang),
        low=f"{low:g}",
        high=f"{high:g}",
    )


class PlanEvidence(_Open):
    """What backs an action: the peers that made the step, or the model table it comes from.

    A brand user gets ``summary`` instead of ``peers`` (:mod:`windmaker.views.privacy`).
    """

    peers: list[PeerStep] = []
    summary: PeerSummary | None = None
    #: The model table of a model-backed action (``mdl_clv_buyers``, ``mdl_traffic_curves``).
    source: str | None = None
    note: str | None = None


class PlanAction(_Open):
    """One ``g_plan`` row: an action of the playbook (or a model), its metric and evidence."""

    rank: int
    action_id: str
    period: date | None = None
    brand_id: str | None = None
    category: str | None = None
    stage: Stage | None = None
    capability: Capability | None = None
    metric: str | None = None
    direction: str | None = None
    current: float | None = None
    target: float | None = None
    title_en: str | None = None
    title_zh: str | None = None
    evidence: PlanEvidence | None = None


class Diagnosis(BaseModel):
    """The brand's stage, bottleneck ranking and action plan for one period."""

    stage: StageRecord | None
    bottlenecks: list[Bottleneck]
    plan: list[PlanAction]


class BrandDiagnosis(BaseModel):
    """The scorecard and the diagnosis together (``windmaker diagnose BRAND --json``)."""

    scorecard: Scorecard
    diagnosis: Diagnosis


class Radar(_Coded):
    """The brand's final scores against its category's median and the next stage's median."""

    capabilities: list[Capability]
    brand: list[float | None]
    category_median: list[float | None]
    next_stage_median: list[float | None]
