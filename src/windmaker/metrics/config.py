"""The metrics configuration (``metrics.yaml``): complaint kinds, standardisation, capability weights."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from windmaker import contract
from windmaker.codes import Capability
from windmaker.config import load_yaml_model

FILE = "metrics.yaml"


class CapabilityMetric(BaseModel):
    """One metric of a capability index: its weight and direction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    weight: float = Field(gt=0, le=1)
    sign: Literal[1, -1] = 1


class Standardise(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clip: float = Field(default=5.0, gt=0)
    missing_z: float = -2.0


class Benchmark(BaseModel):
    """Who a brand is compared with: its category, or every brand when the category is small."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_category_brands: int = Field(default=10, ge=1)
    index_decimals: int = Field(default=6, ge=0, le=12)


class MetricsConfig(BaseModel):
    """``metrics.yaml``, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    complaint_kinds: tuple[str, ...] = ("quality", "misleading")
    standardise: Standardise = Standardise()
    benchmark: Benchmark = Benchmark()
    capabilities: dict[Capability, tuple[CapabilityMetric, ...]]

    @model_validator(mode="after")
    def _check(self) -> MetricsConfig:
        from windmaker.metrics.brand_period import METRIC_COLUMNS, TRAILING_COLUMNS

        known = set(METRIC_COLUMNS) | set(TRAILING_COLUMNS)
        if set(self.capabilities) != set(Capability):
            raise ValueError(f"capabilities must be exactly {', '.join(Capability)}")
        for cap, items in self.capabilities.items():
            for it in items:
                if it.metric not in known:
                    raise ValueError(f"{cap}: unknown metric {it.metric!r}")
            total = sum(it.weight for it in items)
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"{cap}: weights add to {total:g}, not 1")
        bad = set(self.complaint_kinds) - set(contract.COMPLAINTS)
        if bad:
            raise ValueError(f"complaint_kinds: unknown {sorted(bad)}")
        return self


def load_metrics_config(config_dir: Path | None = None) -> MetricsConfig:
    """The workspace's ``metrics.yaml`` (or the shipped default)."""
    return load_yaml_model(MetricsConfig, FILE, config_dir)
