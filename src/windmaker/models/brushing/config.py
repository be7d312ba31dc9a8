"""Codes and settings of brushing detection: the signals, detectors and confidence levels, the
columns of the flag tables, and the ``trust.yaml`` → ``brushing`` settings.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Columns of ``mdl_brushing_orders`` (high-confidence flags, left out of GMV) and of
#: ``mdl_brushing_review`` (every flag).
FLAGGED_COLUMNS = (
    "order_id",
    "brand_id",
    "buyer_id",
    "paid_at",
    "method",
    "window_start",
    "window_end",
    "window_orders",
    "window_buyers",
    "block_id",
    "signals",
    "n_signals",
    "confidence",
)
METHOD_RULE = "rule"
METHOD_BLOCK = "block"
METHOD_BOTH = "rule+block"
NO_TIME = np.iinfo(np.int64).min

SIGNAL_CONCENTRATION = "concentration"
SIGNAL_DENSE_BLOCK = "dense_block"
SIGNAL_CO_SHOP = "co_shop"
SIGNAL_FRESH_ACCOUNT = "fresh_account"
SIGNAL_LOW_VALUE = "low_value"
SIGNAL_UNFULFILLED = "unfulfilled"
SIGNAL_NO_REVIEW = "no_review"
#: Every signal, in the order ``signals`` lists them.
SIGNALS = (
    SIGNAL_CONCENTRATION,
    SIGNAL_DENSE_BLOCK,
    SIGNAL_CO_SHOP,
    SIGNAL_FRESH_ACCOUNT,
    SIGNAL_LOW_VALUE,
    SIGNAL_UNFULFILLED,
    SIGNAL_NO_REVIEW,
)
#: Signals that show several buyers acting together; a high-confidence flag needs one.
RING_SIGNALS = (SIGNAL_DENSE_BLOCK, SIGNAL_CO_SHOP)
#: Signals about the order or the account alone; they only add to a flag.
CORROBORATING = (SIGNAL_FRESH_ACCOUNT, SIGNAL_LOW_VALUE, SIGNAL_UNFULFILLED, SIGNAL_NO_REVIEW)
CONFIDENCE_HIGH = "high"
CONFIDENCE_REVIEW = "review"


class BlockConfig(BaseModel):
    """Ring (dense block) detection settings (``trust.yaml`` → ``brushing.blocks``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool
    window_seconds: int = Field(ge=60)
    min_ring_buyers: int = Field(ge=2)
    min_shared_windows: int = Field(ge=1)
    max_window_buyers: int = Field(ge=2)
    max_chance: float = Field(gt=0, lt=1)


class EvidenceConfig(BaseModel):
    """How flags become high-confidence (``trust.yaml`` → ``brushing.evidence``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_signals: int = Field(ge=1)
    corroborating: tuple[str, ...]
    fresh_days: float = Field(gt=0)
    low_value_quantile: float = Field(gt=0, lt=1)

    @field_validator("corroborating")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(CORROBORATING)
        if unknown:
            raise ValueError(f"unknown signals {sorted(unknown)}; known: {list(CORROBORATING)}")
        return value


class BrushingConfig(BaseModel):
    """Brushing detection settings (``trust.yaml`` → ``brushing``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_seconds: int = Field(ge=1)
    min_ratio: float = Field(gt=0)
    blocks: BlockConfig
    evidence: EvidenceConfig
