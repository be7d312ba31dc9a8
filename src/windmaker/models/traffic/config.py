"""Settings of the paid-traffic curves (the ``traffic`` section of ``models.yaml``): the priors of
the MAP fit and the limits of the budget recommendation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from windmaker import contract

#: The contract's code of paid-promotion traffic.
PAID = "paid"
CANCELLED = "cancelled"
assert PAID in contract.TRAFFIC_SOURCES and CANCELLED in contract.ORDER_STATUSES


class TrafficPriors(BaseModel):
    """Weak priors of the MAP fit, on scaled spend and GMV."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    adstock_alpha_beta: tuple[float, float] = (1.0, 3.0)
    saturation_lam_gamma: tuple[float, float] = (2.0, 1.0)
    beta_halfnormal_sigma: float = Field(default=10.0, gt=0)
    sigma_halfnormal_sigma: float = Field(default=1.0, gt=0)
    hill_kappa_gamma: tuple[float, float] = (2.0, 1.0)  # Gamma(shape, rate) on K / mean spend
    hill_shape_bounds: tuple[float, float] = (0.5, 3.0)  # S is searched in this range (flat)


class BudgetConfig(BaseModel):
    """Bounds of a recommended spend, relative to the brand's current spend."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_ratio: float = Field(default=0.25, ge=0)
    max_ratio: float = Field(default=3.0, ge=1)


class TrafficConfig(BaseModel):
    """Settings of the response curves (the ``traffic`` section of ``models.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    adstock_max_lag_days: int = Field(default=14, ge=1, le=90)
    history_days: int = Field(default=180, ge=14)
    min_spend_days: int = Field(default=30, ge=7)
    current_window_days: int = Field(default=28, ge=1)
    gross_margin: float = Field(default=0.4, gt=0, le=1)
    saturation: Literal["hill", "logistic"] = "hill"
    priors: TrafficPriors = Field(default_factory=TrafficPriors)
    alpha_starts: tuple[float, ...] = (0.1, 0.4, 0.7)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    #: Processes fitting brands' curves at once; 0 is one per core (a market of few brands is
    #: fitted in the calling process).
    workers: int = Field(default=0, ge=0, le=64)

    @property
    def break_even_roas(self) -> float:
        """Marginal ROAS at which one more yuan of spend stops paying: 1 / gross margin."""
        return 1.0 / self.gross_margin
