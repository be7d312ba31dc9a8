"""Typed configuration of the ecosystem (``ecosystem.yaml``): standards, exit rule, tiers, matching,
the allocation of the plan's resources."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from windmaker.config import load_yaml_model
from windmaker.contract import CAPABILITIES

CONFIG_FILE = "ecosystem.yaml"

AdmissionCriterion = Literal[
    "team_size", "gmv_served_12m", "cases", "years_operating", "capacity", "categories"
]
EvaluationMetric = Literal[
    "client_uplift",
    "client_uplift_year",
    "capability_uplift",
    "stage_advancement_rate",
    "client_retention",
    "action_completion",
    "trust_violations_per_client",
]
ProviderKind = Literal[
    "brand_operation", "influencer_agency", "traffic_agency", "supply_chain", "full_service"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threshold(_Strict):
    admit: float
    probation: float

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.probation > self.admit:
            raise ValueError("probation threshold must not exceed the admit threshold")
        return self


class KindStandard(_Strict):
    required_capabilities: tuple[str, ...] = ()
    criteria: dict[AdmissionCriterion, Threshold]

    @field_validator("required_capabilities")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(v) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"unknown capabilities {sorted(unknown)}")
        return v


class AdmissionConfig(_Strict):
    standards: dict[ProviderKind, KindStandard]


class Bound(_Strict):
    min: float | None = None
    max: float | None = None


class EvaluationConfig(_Strict):
    growth_months: int = Field(ge=2, le=24)
    trend_months: int = Field(ge=2, le=24)
    min_months: int = Field(ge=2)
    capability_months: int = Field(ge=1, le=12)
    peer_count: int = Field(ge=1)
    ramp_months: int = Field(ge=0, le=12)
    level_shift_log: float = Field(gt=0)
    shrinkage_clients: float = Field(ge=0)
    min_clients: int = Field(ge=1)
    standards: dict[EvaluationMetric, Bound]
    weights: dict[EvaluationMetric, float]
    severe_violation_kinds: tuple[str, ...]


class ExitConfig(_Strict):
    warn_after_periods: int = Field(ge=1)
    exit_after_periods: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> ExitConfig:
        if self.exit_after_periods < self.warn_after_periods:
            raise ValueError("exit_after_periods must be at least warn_after_periods")
        return self


class Tier(_Strict):
    code: str
    name_en: str
    name_zh: str
    min_annual_gmv_served: float = Field(gt=0)
    target_providers: int = Field(ge=0)


class MatchingConfig(_Strict):
    prior_uplift: float
    shrinkage_brands: float = Field(ge=0)
    similar_size_factor: float = Field(ge=1)
    min_predicted_uplift: float
    category_must_match: bool
    off_category_factor: float = Field(ge=0, le=1)
    min_brand_value: float = Field(ge=0)
    benefit_unit: float = Field(gt=0)


class AllocationConfig(_Strict):
    """The response model, the limits per provider, the tier weighting and the solver of the
    allocation of the windmaker plan's funds and traffic (see :mod:`windmaker.ecosystem.allocation`)."""

    funds_effect: float = Field(ge=0)
    traffic_effect: float = Field(ge=0)
    funds_scale: float = Field(gt=0)
    traffic_scale: float = Field(gt=0)
    shrinkage_clients: float = Field(ge=0)
    min_funds_per_provider: float = Field(ge=0)
    max_funds_per_provider: float = Field(ge=0)
    max_funds_per_client: float = Field(ge=0)
    min_traffic_per_provider: float = Field(ge=0)
    max_traffic_per_provider: float = Field(ge=0)
    max_traffic_per_client: float = Field(ge=0)
    tier_bonus: dict[str, float]
    segments: int = Field(ge=2, le=200)
    time_limit_seconds: float = Field(gt=0)
    relative_gap: float = Field(ge=0, lt=1)
    forecast_draws: int = Field(ge=100)
    forecast_interval: float = Field(gt=0, lt=1)
    forecast_seed: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> AllocationConfig:
        if self.min_funds_per_provider > self.max_funds_per_provider:
            raise ValueError("min_funds_per_provider must not exceed max_funds_per_provider")
        if self.min_traffic_per_provider > self.max_traffic_per_provider:
            raise ValueError("min_traffic_per_provider must not exceed max_traffic_per_provider")
        if any(v < 0 for v in self.tier_bonus.values()):
            raise ValueError("a tier bonus must not be negative")
        return self


class EcosystemConfig(_Strict):
    version: int
    admission: AdmissionConfig
    evaluation: EvaluationConfig
    exit: ExitConfig
    tiers: tuple[Tier, ...]
    matching: MatchingConfig
    allocation: AllocationConfig

    @model_validator(mode="after")
    def _bonus_tiers(self) -> EcosystemConfig:
        unknown = set(self.allocation.tier_bonus) - {t.code for t in self.tiers}
        if unknown:
            raise ValueError(f"allocation.tier_bonus names unknown tiers {sorted(unknown)}")
        return self

    @field_validator("tiers")
    @classmethod
    def _descending(cls, v: tuple[Tier, ...]) -> tuple[Tier, ...]:
        mins = [t.min_annual_gmv_served for t in v]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("tiers must be listed highest first with distinct thresholds")
        return v


def load_config(config_dir: Path | None = None) -> EcosystemConfig:
    """``ecosystem.yaml`` from ``config_dir`` when it has one, else the shipped default."""
    return load_yaml_model(EcosystemConfig, CONFIG_FILE, config_dir)
