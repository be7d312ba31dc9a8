"""Settings of ``models.yaml``: the lifetime-value models (time unit, minimum buyers, horizons,
buyer segments) and the paid-traffic curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from windmaker import contract
from windmaker.config import load_yaml_model
from windmaker.models.traffic import TrafficConfig

CONFIG_FILE = "models.yaml"
#: Days in one time unit of the RFM summary.
TIME_UNIT_DAYS = {"day": 1, "week": 7}
SEGMENTS = ("active_fan", "new", "at_risk", "lapsed")
#: Orders in this status are not purchases (the contract's code).
CANCELLED = "cancelled"
assert CANCELLED in contract.ORDER_STATUSES
FitLevel = Literal["brand", "category", "market"]


class SegmentConfig(BaseModel):
    """Thresholds of the buyer segments (see ``models.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    active_min: float = Field(default=0.7, gt=0, lt=1)
    at_risk_min: float = Field(default=0.3, gt=0, lt=1)
    new_within_days: int = Field(default=60, ge=1)
    lapse_after_days: int = Field(default=180, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> SegmentConfig:
        if self.at_risk_min >= self.active_min:
            raise ValueError("at_risk_min must be below active_min")
        if self.new_within_days >= self.lapse_after_days:
            raise ValueError("new_within_days must be below lapse_after_days")
        return self


class ClvConfig(BaseModel):
    """Settings of the lifetime-value models (the ``clv`` section of ``models.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    time_unit: Literal["day", "week"] = "week"
    min_buyers: int = Field(default=300, ge=2)
    min_repeat_buyers: int = Field(default=50, ge=2)
    pareto_nbd: bool = True
    pareto_min_loglik_gain: float = Field(default=2.0, ge=0)
    horizons_days: tuple[int, ...] = (90, 180, 365)
    segments: SegmentConfig = Field(default_factory=SegmentConfig)
    #: Processes fitting brands at once; 0 is one per core. A small market is fitted in the
    #: calling process whatever this says (a pool would cost more than it saves).
    workers: int = Field(default=0, ge=0, le=64)

    @model_validator(mode="before")
    @classmethod
    def _no_history_window(cls, data: Any) -> Any:
        # A window silently dropped every buyer who had not bought inside it and restarted the
        # age T of the rest at the window's edge: say why the key is gone, not just "extra".
        if isinstance(data, dict) and "history_months" in data:
            raise ValueError(
                "history_months is no longer a setting: lifetime value is fitted on every "
                "buyer's whole history (frequency, recency and T from the first purchase); "
                "remove the key"
            )
        return data

    @property
    def unit_days(self) -> int:
        return TIME_UNIT_DAYS[self.time_unit]


class ModelsConfig(BaseModel):
    """The whole ``models.yaml``: lifetime value and paid-traffic curves."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    clv: ClvConfig = Field(default_factory=ClvConfig)
    traffic: TrafficConfig = Field(default_factory=TrafficConfig)


def load_models_config(config_dir: Path | None = None) -> ModelsConfig:
    """``models.yaml`` from ``config_dir`` when present, else the shipped default."""
    return load_yaml_model(ModelsConfig, CONFIG_FILE, config_dir)
