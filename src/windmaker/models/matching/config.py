"""Settings of ``distribution.yaml``: influencer matching (its signals, ranker and trust gate), hit
detection, the horse race and distribution concentration.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from windmaker.config import load_yaml_model
from windmaker.models.concentration import ConcentrationConfig
from windmaker.models.hits import HitConfig
from windmaker.models.horse_race import HorseRaceConfig

CONFIG_FILE = "distribution.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlsConfig(_Strict):
    """Implicit-feedback ALS over brand × influencer cooperations (confidence = 1 + alpha·log1p(GMV))."""

    factors: int = Field(default=16, ge=2)
    regularization: float = Field(default=0.05, gt=0)
    alpha: float = Field(default=2.0, gt=0)
    iterations: int = Field(default=15, ge=1)
    threads: int = Field(default=1, ge=0, description="ALS worker threads; 0 = all cores")


class RankerConfig(_Strict):
    """The histogram gradient boosting hurdle ranker."""

    max_iter: int = Field(default=100, ge=10)
    learning_rate: float = Field(default=0.08, gt=0, le=1)
    max_leaf_nodes: int = Field(default=15, ge=2)
    min_samples_leaf: int = Field(default=20, ge=1)
    l2_regularization: float = Field(default=1.0, ge=0)
    label_months: int = Field(default=3, ge=1, description="months of one label window")
    label_windows: int = Field(
        default=1,
        ge=1,
        description="label windows stacked back from the cutoff (more training pairs)",
    )
    negatives_per_brand: int = Field(default=60, ge=1)
    candidates: int = Field(
        default=1000, ge=10, description="influencers the boosted trees score per brand"
    )
    threads: int = Field(
        default=1,
        ge=1,
        description="OpenMP threads of fit and predict (spinning threads stall a busy machine)",
    )


class TrustGateConfig(_Strict):
    """The interim trust gate (until trust scores are stored in the warehouse)."""

    threshold: float = Field(
        default=60.0, ge=0, le=100, description="minimum trust score to recommend"
    )
    min_orders: int = Field(
        default=30, ge=1, description="below this many orders: insufficient data"
    )
    refund_weight: float = Field(
        default=100.0, ge=0, description="points lost per unit refund rate"
    )
    complaint_weight: float = Field(
        default=0.6, ge=0, description="points lost per complaint per 1k"
    )
    gate_insufficient: bool = Field(
        default=False, description="gate influencers with too few orders"
    )


class MatchingConfig(_Strict):
    """Influencer matching: signals, ranker and gate."""

    history_months: int = Field(
        default=12, ge=1, description="months of history behind the signals"
    )
    growth_months: int = Field(default=3, ge=1, description="window of the recent-growth signal")
    top_k: int = Field(default=20, ge=1)
    seed: int = 7
    als: AlsConfig = AlsConfig()
    ranker: RankerConfig = RankerConfig()
    trust: TrustGateConfig = TrustGateConfig()


class DistributionConfig(_Strict):
    """``distribution.yaml``: matching, hit detection, horse race and concentration."""

    version: int = 1
    matching: MatchingConfig = MatchingConfig()
    hits: HitConfig = HitConfig()
    horse_race: HorseRaceConfig = HorseRaceConfig()
    concentration: ConcentrationConfig = ConcentrationConfig()


def load_distribution_config(config_dir: Path | None = None) -> DistributionConfig:
    """The workspace's ``distribution.yaml`` when it has one, else the shipped default."""
    return load_yaml_model(DistributionConfig, CONFIG_FILE, config_dir)
