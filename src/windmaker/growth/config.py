"""The typed form of ``ladder.yaml``: stage criteria, hysteresis, bottleneck, plan, portfolio rules.

Every threshold the growth diagnosis applies comes from here, so a criteria change in the file
changes the results without a code change; a bad file fails on load with the file, key and reason
(:class:`windmaker.config.ConfigError`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from windmaker.codes import Attention, Capability
from windmaker.config import load_yaml_model

LADDER_FILE = "ladder.yaml"

#: ``m_brand_month`` metrics an action (``playbook.yaml``) or a headline metric may name; the
#: diagnosis reads exactly these beside the ladder's columns.
PLAN_METRICS = (
    "net_gmv_t30d",
    "self_share",
    "live_hours",
    "self_gmv_per_live_hour",
    "gpm",
    "paid_spend",
    "roas",
    "public_share",
    "distribution_share",
    "active_influencers",
    "top_influencer_share",
    "influencer_hhi",
    "dedicated_gmv",
    "repurchase_rate_90d",
    "repurchase_rate_180d",
    "follower_gmv",
    "follower_gmv_share",
    "new_follows",
    "special_supply_share",
    "special_supply_skus",
    "refund_rate",
    "complaints_per_1k",
    "late_shipment_rate",
    "review_score",
)
PlanMetric = Literal[PLAN_METRICS]  # type: ignore[valid-type]

Share = Annotated[float, Field(gt=0, le=1)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Score = Annotated[float, Field(ge=0, le=100)]
NonNegative = Annotated[float, Field(ge=0)]
Periods = Annotated[int, Field(ge=1, le=60)]
#: The attentions the portfolio rules order and weigh: every one but ``ok`` (nothing to do).
FLAGGED_ATTENTIONS = frozenset(a for a in Attention if a is not Attention.OK)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZeroBreakingCriteria(_Model):
    """新店破零: fewer months with sales than ``min_months_with_sales`` or a small 30-day GMV."""

    min_months_with_sales: Annotated[int, Field(ge=0)]
    min_net_gmv_t30d: NonNegative


class KaCriteria(_Model):
    """行业KA: top share of 90-day GMV, repurchase vs category median, self-operation share."""

    net_gmv_t90d_top_share: Share
    repurchase_vs_category_median: NonNegative
    min_self_share: Fraction


class SkaCriteria(_Model):
    """SKA: top share of 90-day GMV, special-supply share, every capability score."""

    net_gmv_t90d_top_share: Share
    min_special_supply_share: Fraction
    min_capability_score: Score


class Criteria(_Model):
    zero_breaking: ZeroBreakingCriteria
    ka: KaCriteria
    ska: SkaCriteria

    @field_validator("ska")
    @classmethod
    def _ska_above_ka(cls, ska: SkaCriteria, info: object) -> SkaCriteria:
        data = getattr(info, "data", {})
        ka = data.get("ka")
        if ka is not None and ska.net_gmv_t90d_top_share > ka.net_gmv_t90d_top_share:
            raise ValueError(
                "ska.net_gmv_t90d_top_share must not exceed ka.net_gmv_t90d_top_share "
                f"({ska.net_gmv_t90d_top_share} > {ka.net_gmv_t90d_top_share})"
            )
        return ska


class ZeroBreakingOverride(_Model):
    min_months_with_sales: Annotated[int, Field(ge=0)] | None = None
    min_net_gmv_t30d: NonNegative | None = None


class KaOverride(_Model):
    net_gmv_t90d_top_share: Share | None = None
    repurchase_vs_category_median: NonNegative | None = None
    min_self_share: Fraction | None = None


class SkaOverride(_Model):
    net_gmv_t90d_top_share: Share | None = None
    min_special_supply_share: Fraction | None = None
    min_capability_score: Score | None = None


class CategoryOverride(_Model):
    zero_breaking: ZeroBreakingOverride | None = None
    ka: KaOverride | None = None
    ska: SkaOverride | None = None


class StageAmounts(_Model):
    """One number per rank-judged stage (KA, SKA)."""

    ka: NonNegative
    ska: NonNegative


class SmallCategories(_Model):
    """A category too small to hold a stage's "top share of the category" criterion.

    With ``n`` brands, rank ÷ n ≤ 10 % is out of reach below 10 brands and 1 % below 100: such a
    category could never have a KA or SKA. Below ``min_brands`` of a stage its size criterion is
    judged by ``fallback``: ``gmv_floor`` (90-day net GMV ≥ ``gmv_floor`` of the stage) or
    ``all_categories`` (the top share among every brand of the period).
    """

    min_brands: StageAmounts
    fallback: Literal["gmv_floor", "all_categories"] = "gmv_floor"
    gmv_floor: StageAmounts


class History(_Model):
    """A brand that joined before the data window is judged once ``min_days`` days of data reach
    the as-of day of the period (its longest trailing window is full); before, it is left
    unjudged as *insufficient history*, never zero-breaking for lack of months in the data."""

    min_days: Annotated[int, Field(ge=1)] = 90


class Hysteresis(_Model):
    """Promote after ``promote_after_periods`` periods in a row meeting the next stage; demote
    after ``demote_after_periods`` in a row failing the own stage. One stage per confirmation.
    A brand's first ``warmup_periods`` periods in the data take their criteria directly."""

    promote_after_periods: Periods
    demote_after_periods: Periods
    warmup_periods: Periods = 1


#: The metric each capability's gap is explained in, in its own unit (higher is better).
DEFAULT_HEADLINE_METRICS = {
    Capability.SELF_OPERATION: "self_share",
    Capability.TRAFFIC: "public_share",
    Capability.DISTRIBUTION: "distribution_share",
    Capability.PRIVATE_DOMAIN: "repurchase_rate_90d",
    Capability.SPECIAL_SUPPLY: "special_supply_share",
}


class BottleneckRules(_Model):
    min_category_transitions: Annotated[int, Field(ge=1)]
    min_reference_brands: Annotated[int, Field(ge=1)]
    gap_scale: Literal["stage_std", "none"] = "stage_std"
    min_gap_scale: Annotated[float, Field(gt=0)] = 0.05
    smooth_periods: Annotated[int, Field(ge=1, le=24)] = 3
    top_quantile: Annotated[float, Field(gt=0, lt=1)] = 0.9
    measure_lead_periods: Annotated[int, Field(ge=0, le=24)] = 2
    #: capability → the ``m_brand_month`` metric its gap is stated in (brand value against the
    #: same reference as the index: the advancers' median, with the same fallbacks).
    headline_metrics: dict[Capability, PlanMetric] = Field(
        default_factory=lambda: dict(DEFAULT_HEADLINE_METRICS)
    )

    @field_validator("headline_metrics")
    @classmethod
    def _one_per_capability(cls, metrics: dict[Capability, str]) -> dict[Capability, str]:
        expected = set(Capability)
        if set(metrics) != expected:
            raise ValueError(f"must name exactly the capabilities {sorted(expected)}")
        return metrics


class PlanRules(_Model):
    min_actions: Annotated[int, Field(ge=1, le=10)]
    max_actions: Annotated[int, Field(ge=1, le=10)]
    bottleneck_actions: Annotated[int, Field(ge=1, le=10)]
    other_actions: Annotated[int, Field(ge=0, le=10)]
    evidence_peers: Annotated[int, Field(ge=0, le=10)]
    store_periods: Annotated[int, Field(ge=1)]

    @field_validator("max_actions")
    @classmethod
    def _max_not_below_min(cls, value: int, info: object) -> int:
        lo = getattr(info, "data", {}).get("min_actions")
        if lo is not None and value < lo:
            raise ValueError(f"max_actions ({value}) is below min_actions ({lo})")
        return value


class PortfolioRules(_Model):
    stalled_after_periods: Periods
    flat_gmv_change: NonNegative
    falling_gmv_change: Annotated[float, Field(lt=0, ge=-1)]
    gmv_window_periods: Periods
    attention_order: tuple[Attention, ...]
    weights: dict[Attention, Annotated[float, Field(gt=0)]]

    @field_validator("attention_order")
    @classmethod
    def _every_attention_once(cls, order: tuple[Attention, ...]) -> tuple[Attention, ...]:
        expected = FLAGGED_ATTENTIONS
        if set(order) != expected or len(order) != len(expected):
            raise ValueError(f"must list each of {sorted(expected)} exactly once")
        return order

    @field_validator("weights")
    @classmethod
    def _weight_for_every_attention(cls, weights: dict[Attention, float]) -> dict[Attention, float]:
        if Attention.OK in weights:
            raise ValueError("ok takes no weight: brands with nothing to do rank by GMV")
        missing = FLAGGED_ATTENTIONS - set(weights)
        if missing:
            raise ValueError(f"missing weights for {sorted(missing)}")
        return weights


class PrivateDomainModel(_Model):
    """How lifetime value enters the P index: a column of ``mdl_clv_brand`` and its weight."""

    weight: Fraction
    field: Annotated[str, Field(pattern=r"^value_per_buyer_[0-9]+d$|^expected_purchases_[0-9]+d$")]


class TrafficModel(_Model):
    """How the traffic curve enters the T index: −|ln(marginal ROAS / break-even ROAS)|."""

    weight: Fraction
    max_log_ratio: Annotated[float, Field(gt=0)]


class ModelActionRules(_Model):
    """When and with which numbers the plan adds the model-backed P and T actions."""

    max_gap_rank: Annotated[int, Field(ge=1, le=5)]
    at_risk_segment: Literal["at_risk", "lapsed", "new", "active_fan"]
    horizon_days: Annotated[int, Field(ge=1)]
    min_segment_buyers: Annotated[int, Field(ge=1)]
    days_per_month: Annotated[float, Field(gt=0, le=31)]
    min_log_roas_gap: NonNegative
    spend_min_ratio: Annotated[float, Field(ge=0, le=1)]
    spend_max_ratio: Annotated[float, Field(ge=1)]


class ModelRules(_Model):
    """The ``models`` section: lifetime value and traffic curves in the P and T scores and plan.

    Models are fitted once, to the data up to a day; they enrich the capability index of the
    month holding that day. ``min_category_brands``: fewer brands with a model value in a
    category → the standardisation pools every category.
    """

    min_category_brands: Annotated[int, Field(ge=1)]
    private_domain: PrivateDomainModel
    traffic: TrafficModel
    actions: ModelActionRules


class LadderConfig(_Model):
    """The whole ``ladder.yaml``."""

    version: Literal[1]
    criteria: Criteria
    category_overrides: dict[str, CategoryOverride] = Field(default_factory=dict)
    rank_population: Literal["all", "with_sales"] = "all"
    small_categories: SmallCategories = SmallCategories(
        min_brands=StageAmounts(ka=20, ska=200), gmv_floor=StageAmounts(ka=1e6, ska=3e6)
    )
    history: History = History()
    hysteresis: Hysteresis
    bottleneck: BottleneckRules
    plan: PlanRules
    portfolio: PortfolioRules
    #: Without a ``models`` section the diagnosis reads no model table.
    models: ModelRules | None = None

    def criteria_for(self, category: str) -> Criteria:
        """The criteria of ``category``: the defaults with the category's overrides applied."""
        override = self.category_overrides.get(category)
        if override is None:
            return self.criteria
        merged = self.criteria.model_dump()
        for stage, part in override.model_dump(exclude_none=True).items():
            merged[stage].update(part)
        return Criteria.model_validate(merged)

    @field_validator("category_overrides")
    @classmethod
    def _overrides_stay_consistent(
        cls, overrides: dict[str, CategoryOverride], info: object
    ) -> dict[str, CategoryOverride]:
        base = getattr(info, "data", {}).get("criteria")
        if base is None:
            return overrides
        for category, override in overrides.items():
            merged = base.model_dump()
            for stage, part in override.model_dump(exclude_none=True).items():
                merged[stage].update(part)
            try:
                Criteria.model_validate(merged)
            except ValueError as exc:
                raise ValueError(f"{category}: {exc}") from None
        return overrides


def load_ladder_config(config_dir: Path | None = None) -> LadderConfig:
    """``ladder.yaml`` from ``config_dir`` when it holds one, else the shipped default."""
    return load_yaml_model(LadderConfig, LADDER_FILE, config_dir)
