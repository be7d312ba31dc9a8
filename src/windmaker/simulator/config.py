"""What a simulated market is: its size and window (``MarketConfig``) and the mechanism
parameters loaded from ``simulator.yaml`` (``SimulatorParams``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from windmaker.config import load_yaml_model
from windmaker.contract import CAPABILITIES, STAGES
from windmaker.simulator.writer import COMPRESSIONS

CONFIG_FILE = "simulator.yaml"
#: Kinds of planted order-brushing rings (``MarketConfig.ring_kinds``).
RING_KINDS = ("burst", "multi_shop", "daily")
SECONDS_PER_DAY = 86_400


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Range = tuple[float, float]


class CategoryParams(_Strict):
    weight: float = Field(gt=0)
    aov: float = Field(gt=0)
    refund_rate: float = Field(ge=0, lt=1)
    commission: float = Field(ge=0, lt=1)


class SmallCategory(_Strict):
    """Categories with fewer brands than these hold their KA / SKA by market-wide potential."""

    ka: int = Field(ge=1)
    ska: int = Field(ge=1)


class BrandParams(_Strict):
    new_share: float = Field(ge=0, le=1)
    factory_upgraded_share: float = Field(ge=0, le=1)
    ska_share: float = Field(ge=0, le=1)
    ka_share: float = Field(ge=0, le=1)
    zero_breaking_share: float = Field(ge=0, le=1)
    small_category: SmallCategory


class GmvLevel(_Strict):
    median: float = Field(gt=0)
    sigma: float = Field(ge=0)
    min: float = Field(gt=0)
    max: float | None = None


class MonthlyGmv(_Strict):
    zero_breaking: GmvLevel
    climbing: GmvLevel
    ka: GmvLevel
    ska: GmvLevel
    month_noise: float = Field(ge=0)
    new_brand_ramp: list[float]
    provider_growth: float = Field(ge=0)

    def level(self, stage: str) -> GmvLevel:
        return getattr(self, stage)  # type: ignore[no-any-return]


class Transitions(_Strict):
    advance_zero_breaking: float
    advance_climbing: float
    advance_ka: float
    fall_climbing: float
    fall_ka: float
    fall_ska: float
    provider_boost: float
    max_ka_share: float
    max_ska_share: float


class SkillParams(_Strict):
    requirements: dict[str, dict[str, float]]
    spread: float
    bottleneck_gap: Range
    ka_special_supply: float
    ka_bottleneck_gap: Range
    gated_top_share: float
    gated_gap: Range
    bottleneck_weights: dict[str, dict[str, float]]
    month_noise: float
    provider_growth: float
    provider_growth_cap: float

    @field_validator("requirements", "bottleneck_weights")
    @classmethod
    def _capabilities(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for stage, caps in value.items():
            if stage not in STAGES:
                raise ValueError(f"unknown stage {stage!r}")
            if set(caps) != set(CAPABILITIES):
                raise ValueError(f"{stage} must list exactly the capabilities {CAPABILITIES}")
        return value

    def vector(self, table: dict[str, dict[str, float]], stage: str) -> np.ndarray:
        return np.array([table[stage][c] for c in CAPABILITIES], dtype=float)


class ChannelParams(_Strict):
    self_share_base: float
    self_share_self_weight: float
    self_share_distribution_weight: float
    live_share: float
    paid_base: float
    paid_weight: float
    roas_base: float
    roas_weight: float
    no_ads_below: float
    recommend_base: float
    recommend_weight: float
    search_share: float
    special_weight: float


class RepeatParams(_Strict):
    r: float = Field(gt=0)
    rate_base: float = Field(gt=0)
    rate_weight: float = Field(ge=0)
    a: float = Field(gt=1)
    dropout_base: float
    dropout_weight: float
    gg_p: float = Field(gt=0)
    gg_q: float = Field(gt=1)
    follow_base: float
    follow_weight: float
    follow_repeat: float
    influencer_follow: float
    carryover: float = Field(ge=0, lt=1)
    # Loyal fans (set by the loyalty preset, ``loyalty``): extra mean purchase rate per day
    # loyal_rate · clip((s_private − loyal_from) / (1 − loyal_from), 0, 1); 0 leaves it out.
    loyal_rate: float = Field(default=0.0, ge=0)
    loyal_from: float = Field(default=0.5, ge=0, lt=1)


class AdParams(_Strict):
    alpha: Range
    hill_shape: Range
    campaigns: tuple[int, int]
    spend_noise: float
    flight_noise: float
    pulse_probability: float
    pulse_multiplier: Range
    cpm: Range
    ctr: Range


class InfluencerParams(_Strict):
    per_brand: float
    minimum: int
    fans_median: float
    fans_sigma: float
    conversion: Range
    trust: Range
    low_trust_share: float
    low_trust: Range
    second_category_share: float
    coop_base: float
    coop_weight: float
    pickiness: float
    dedicated_base: float
    dedicated_weight: float
    dedicated_boost: float
    sessions_per_cooperation: tuple[int, int]
    live_share: float


class LiveParams(_Strict):
    main_base: float
    main_weight: float
    matrix_base: float
    matrix_weight: float
    main_hours: Range
    matrix_hours: Range
    matrix_base_count: float
    matrix_weight_count: float
    matrix_max: int
    best_margin: float


class CatalogParams(_Strict):
    skus_per_brand: tuple[int, int]
    price_sigma: float
    hit_beta: Range
    hit_threshold: float
    weight_floor: float
    hit_power: float
    test_share: float
    new_skus_per_month: float
    special_skus: tuple[int, int]
    factories_per_brand: float
    factory_quality: Range
    factory_size_sigma: float = Field(ge=0)
    factory_quality_mean: float = Field(gt=0, lt=1)
    quality_refund: float = Field(ge=0)
    quality_review: float = Field(ge=0)
    quality_complaint: float = Field(ge=0, le=1)
    quality_hit: float = Field(ge=0)


class TrustParams(_Strict):
    shop: Range
    low_trust_share: float
    low_trust: Range
    cancel_rate: float
    partial_refund_share: float
    ship_hours_promised: int
    late_base: float
    late_weight: float
    review_rate: float
    brushing_brand_share: float
    ring_size: tuple[int, int]
    episodes: tuple[int, int]
    orders_per_buyer: tuple[int, int]
    episode_minutes: int
    # Other ring kinds (MarketConfig.ring_kinds): shops of a multi-shop ring and its orders per
    # buyer per shop and episode; days a once-a-day ring runs and the share of them it orders.
    multi_shop_shops: tuple[int, int] = (2, 3)
    multi_shop_orders: tuple[int, int] = (1, 2)
    daily_days: tuple[int, int] = (21, 42)
    daily_share: float = Field(default=0.85, gt=0, le=1)


class LoyaltyParams(_Strict):
    """The loyalty-heavy market (``MarketConfig.loyalty``): the ``repeat`` values it sets."""

    loyal_rate: float = Field(ge=0)
    loyal_from: float = Field(ge=0, lt=1)


class ProviderKind(_Strict):
    weight: float
    capabilities: list[str]


class ProviderParams(_Strict):
    per_brands: int
    minimum: int
    kinds: dict[str, ProviderKind]
    capacity: tuple[int, int]
    start_share: dict[str, float]
    take_on: float
    churn: float


class SimulatorParams(_Strict):
    """Every parameter of the market's mechanisms (``simulator.yaml``)."""

    version: int = 1
    categories: dict[str, CategoryParams]
    brands: BrandParams
    monthly_gmv: MonthlyGmv
    transitions: Transitions
    skills: SkillParams
    channels: ChannelParams
    repeat: RepeatParams
    ads: AdParams
    influencers: InfluencerParams
    live: LiveParams
    catalog: CatalogParams
    trust: TrustParams
    providers: ProviderParams
    loyalty: LoyaltyParams = LoyaltyParams(loyal_rate=0.35, loyal_from=0.5)

    @model_validator(mode="after")
    def _kinds(self) -> SimulatorParams:
        for kind in self.providers.kinds.values():
            unknown = set(kind.capabilities) - set(CAPABILITIES)
            if unknown:
                raise ValueError(f"unknown capabilities {sorted(unknown)}")
        return self


def load_params(config_dir: Path | None = None) -> SimulatorParams:
    """The simulator parameters: ``config_dir/simulator.yaml`` when present, else the default."""
    return load_yaml_model(SimulatorParams, CONFIG_FILE, config_dir)


@dataclass(frozen=True)
class MarketConfig:
    """Size, window and seed of a simulated market.

    Parameters
    ----------
    brands, months
        Number of brands; number of whole months in the window.
    seed
        Same seed → byte-identical files.
    end
        Last month of the window, ``YYYY-MM``; the window is the ``months`` months ending with it.
        ``YYYY-MM-DD``: the export ends on that day, as real back-office exports do: the market
        is simulated to the month's end and nothing after the day is written (orders shipped or
        refunded later show as not yet shipped or refunded). The truth keeps the month.
    categories
        Subset of the configured categories (default: all of them).
    category_brands
        Fixed numbers of brands for some categories, ``(("sports", 4), …)`` (small categories);
        the other brands are drawn among the other categories by weight.
    small_category_leaders
        Categories below ``brands.small_category`` hold KA and SKA brands by market-wide
        potential (a small category has its leaders too). Off: every category holds
        ``floor(share × n)`` of them, so a category of 50 brands has no SKA.
    block_brands
        Brands generated and written together; bounds the memory of the order stream.
    compression
        Parquet codec of the streamed tables: ``snappy`` (default), ``zstd`` (smaller) or
        ``none`` (fastest to write, about twice the size).
    ring_kinds
        Kinds of the planted order-brushing rings, given in turn to the rings (``burst``: one shop,
        several orders per buyer within an hour; ``multi_shop``: the same buyers together at 2–3
        shops; ``daily``: the same buyers once a day each, together, for weeks). Empty: no rings.
    loyalty
        The loyalty-heavy market: fans of the brands strong in private domain (KA and SKA above
        all) buy several times a month, some twice a day (``loyalty`` in ``simulator.yaml``).
    """

    brands: int = 1000
    months: int = 12
    seed: int = 0
    end: str = "2026-10"
    categories: tuple[str, ...] | None = None
    block_brands: int = 64
    compression: str = "snappy"
    ring_kinds: tuple[str, ...] = ("burst",)
    loyalty: bool = False
    category_brands: tuple[tuple[str, int], ...] = ()
    small_category_leaders: bool = False
    config_dir: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.brands < 1:
            raise ValueError("brands must be at least 1")
        if self.months < 1:
            raise ValueError("months must be at least 1")
        if self.block_brands < 1:
            raise ValueError("block_brands must be at least 1")
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, not {self.compression!r}")
        if len(self.end) == 10:
            np.datetime64(self.end, "D")  # raises on a malformed day
        else:
            np.datetime64(self.end, "M")  # raises on a malformed month
        fixed = sum(n for _, n in self.category_brands)
        if any(n < 1 for _, n in self.category_brands) or fixed > self.brands:
            raise ValueError("category_brands: each at least 1, together at most `brands`")
        unknown = set(self.ring_kinds) - set(RING_KINDS)
        if unknown:
            raise ValueError(f"unknown ring kinds {sorted(unknown)}; known: {list(RING_KINDS)}")

    @property
    def end_month(self) -> str:
        """The window's last month, ``YYYY-MM``."""
        return self.end[:7]

    @property
    def cut_day(self) -> np.datetime64 | None:
        """The export's last day when ``end`` names a day, else None (whole months)."""
        return np.datetime64(self.end, "D") if len(self.end) == 10 else None


@dataclass(frozen=True)
class Window:
    """The calendar of the market: months and days, as offsets from the first day.

    Timestamps inside the simulator are int64 seconds of the naive Asia/Shanghai wall clock
    since 1970-01-01 00:00 (the same clock, no zone), converted to Arrow timestamps on write.
    """

    month_starts: np.ndarray  # datetime64[D], one per month
    end_day: np.datetime64  # first day after the window

    @classmethod
    def ending(cls, end: str, months: int) -> Window:
        last = np.datetime64(end, "M")
        firsts = np.arange(last - months + 1, last + 1, dtype="datetime64[M]")
        return cls(firsts.astype("datetime64[D]"), (last + 1).astype("datetime64[D]"))

    @property
    def months(self) -> int:
        return len(self.month_starts)

    @property
    def start_day(self) -> np.datetime64:
        return self.month_starts[0]  # type: ignore[no-any-return]

    @property
    def days(self) -> int:
        return int((self.end_day - self.start_day).astype(int))

    @property
    def start_seconds(self) -> int:
        return int(self.start_day.astype("datetime64[s]").astype(np.int64))

    @property
    def end_seconds(self) -> int:
        return int(self.end_day.astype("datetime64[s]").astype(np.int64))

    @property
    def month_first_day(self) -> np.ndarray:
        """Day offset of each month's first day."""
        return (self.month_starts - self.start_day).astype(np.int64)

    @property
    def month_days(self) -> np.ndarray:
        ends = np.append(self.month_first_day[1:], self.days)
        return ends - self.month_first_day

    @property
    def day_month(self) -> np.ndarray:
        """Month index of each day of the window."""
        return np.repeat(np.arange(self.months), self.month_days)
