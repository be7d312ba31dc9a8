"""A planted market for the windmaker plan's resources (造风者计划): providers whose true uplift,
GMV served and response to funds and traffic are known, the evaluation history an allocator
sees, and the year-end outcome of any allocation.

Planted, for provider ``p`` (deterministic for a seed):

- skill ``κ_p`` ~ Beta(2, 2) (or a market's ``Providers.skill``); true uplift rate
  ``u_p = monthly_gmv.provider_growth × κ_p`` (the simulator's clients grow ``× exp(0.05 κ)`` a
  month faster than unserved brands);
- monthly GMV served ``G_p(m) = exp(λ_p + g_p · m + ε)``, month ``m = 0`` the plan's first,
  ``ln(12 · e^λ) ~ N(ln ¥1亿 + 0.8 (κ − ½), 1.2²)``, trend ``g_p ~ N(0.004, 0.008²)``, month
  noise ``ε ~ N(0, MONTH_NOISE²)``;
- capacity in the simulator's range, clients 30 %–100 % of it; status mostly ``admitted``, a
  weaker provider more often on probation or warned;
- the evaluation history of the ``history_months`` before the plan: each month's clients, GMV
  served, trailing-year GMV served and ``client_uplift_year = u_p + e_p + e_p,m`` with a
  provider error ``e_p ~ N(0, CLIENT_UPLIFT_SD² / n)`` shared by the overlapping trailing
  windows and a month error a third of it;
- the **true response** to funds ``x`` and traffic ``y`` in month ``m``, of another shape than
  the allocator's exponential (same slope at 0, slower saturation, a higher ceiling)::

      U_p(m) = G̅_p(m) · u_p · [a' · x / (x + h_f · G̅) + b' · y / (y + h_t · G̅)]

  with ``G̅`` the noise-free level, ``a' = 2.4, h_f = 0.0024, b' = 1.2, h_t = 1.2``;
- the budget per month: ``FUNDS_PER_GMV`` yuan and ``TRAFFIC_PER_GMV`` impressions per yuan of
  the admitted providers' monthly GMV served.

The year-end outcome of an allocation is the trailing 12 months of GMV served ending with the
plan's last month: evaluated months as observed, each later month ``(G̅ + U) · exp(ε)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from windmaker.simulator.config import SimulatorParams, load_params
from windmaker.simulator.ecosystem import Providers

#: Month noise of ln GMV served.
MONTH_NOISE = 0.06
#: Spread of one client's uplift around its provider's true rate (k = σ²/τ² ≈ 4 against the
#: spread of 0.05 × Beta(2, 2)).
CLIENT_UPLIFT_SD = 0.022
#: The plan's budget per month, per yuan of the admitted providers' monthly GMV served.
FUNDS_PER_GMV = 0.0008
TRAFFIC_PER_GMV = 0.4
#: The true response's ceilings and half-saturation points (per yuan of monthly GMV).
TRUE_FUNDS_EFFECT, TRUE_FUNDS_HALF = 2.4, 0.0024
TRUE_TRAFFIC_EFFECT, TRUE_TRAFFIC_HALF = 1.2, 1.2
STATUSES = ("admitted", "probation", "warned", "exited", "applicant")


@dataclass(frozen=True)
class PlanMarket:
    """Planted providers, what an allocator sees of them, and the plan's budget."""

    provider_ids: tuple[str, ...]
    status: np.ndarray  # object
    capacity: np.ndarray
    clients: np.ndarray
    skill: np.ndarray
    true_uplift: np.ndarray  # u_p per month
    log_level: np.ndarray  # λ_p: ln G̅ at the plan's first month
    trend: np.ndarray  # g_p per month
    periods: tuple[date, ...]  # the plan's months
    history_months: int
    observed: np.ndarray  # [P, history_months] realised GMV served before the plan
    funds_budget: tuple[float, ...]
    traffic_budget: tuple[float, ...]
    #: provider_id, status, capacity (what the store holds of each provider)
    providers: pd.DataFrame
    #: provider_id, period, clients, gmv_served, annual_gmv_served, client_uplift_year
    evaluations: pd.DataFrame

    @property
    def n(self) -> int:
        return len(self.provider_ids)

    def level(self, months: np.ndarray) -> np.ndarray:
        """Noise-free monthly GMV served G̅ [P, len(months)] at months from the plan's first."""
        return np.exp(self.log_level[:, None] + self.trend[:, None] * months[None, :])


def _month(start: date, offset: int) -> date:
    idx = start.year * 12 + start.month - 1 + offset
    return date(idx // 12, idx % 12 + 1, 1)


def plan_market(
    n_providers: int,
    periods: int = 12,
    seed: int = 0,
    *,
    history_months: int = 12,
    start: date = date(2027, 1, 1),
    providers: Providers | None = None,
    params: SimulatorParams | None = None,
) -> PlanMarket:
    """A planted market of ``n_providers`` (a market's ``providers`` when given: their skill and
    capacity) for a plan of ``periods`` months starting ``start``."""
    params = params or load_params()
    rng = np.random.default_rng(seed)
    n = providers.n if providers is not None else n_providers
    lo, hi = params.providers.capacity
    skill = providers.skill.copy() if providers is not None else rng.beta(2.0, 2.0, n)
    capacity = (
        providers.capacity.astype(np.int64)
        if providers is not None
        else rng.integers(lo, hi + 1, n)
    )
    clients = np.maximum(1, np.round(capacity * rng.uniform(0.3, 1.0, n))).astype(np.int64)
    weak = skill < 0.35
    p_weak = np.array([0.45, 0.25, 0.2, 0.05, 0.05])
    p_strong = np.array([0.8, 0.08, 0.03, 0.04, 0.05])
    u_status = rng.random(n)
    status = np.array(
        [
            STATUSES[int(np.searchsorted(np.cumsum(p_weak if w else p_strong), u, side="right"))]
            for w, u in zip(weak, u_status, strict=True)
        ],
        dtype=object,
    )
    true_uplift = params.monthly_gmv.provider_growth * skill
    log_annual = np.log(1e8) + 0.8 * (skill - 0.5) + rng.normal(0.0, 1.2, n)
    log_level = log_annual - np.log(12.0)
    trend = rng.normal(0.004, 0.008, n)
    H = history_months
    # a year before the history too, for the trailing-year GMV served of its first months
    months = np.arange(-H - 11, 0)
    past = np.exp(
        log_level[:, None]
        + trend[:, None] * months[None, :]
        + rng.normal(0, MONTH_NOISE, (n, len(months)))
    )
    observed = past[:, -H:]
    annual = np.stack([past[:, j : j + 12].sum(axis=1) for j in range(H)], axis=1)
    e_provider = rng.normal(0.0, CLIENT_UPLIFT_SD / np.sqrt(clients))
    e_month = rng.normal(0.0, 1.0, (n, H)) * (CLIENT_UPLIFT_SD / 3 / np.sqrt(clients))[:, None]
    measured = true_uplift[:, None] + e_provider[:, None] + e_month
    ids = tuple(f"SP{i:05d}" for i in range(n))
    plan_periods = tuple(_month(start, t) for t in range(periods))
    evaluations = pd.DataFrame(
        {
            "provider_id": np.repeat(ids, H),
            "period": [_month(start, m) for _ in range(n) for m in range(-H, 0)],
            "clients": np.repeat(clients, H),
            "gmv_served": observed.round(2).ravel(),
            "annual_gmv_served": annual.round(2).ravel(),
            "client_uplift_year": measured.ravel(),
        }
    )
    admitted_gmv = float(np.exp(log_level[status == "admitted"]).sum())
    return PlanMarket(
        provider_ids=ids,
        status=status,
        capacity=capacity,
        clients=clients,
        skill=skill,
        true_uplift=true_uplift,
        log_level=log_level,
        trend=trend,
        periods=plan_periods,
        history_months=H,
        observed=observed,
        funds_budget=tuple([round(FUNDS_PER_GMV * admitted_gmv, 2)] * periods),
        traffic_budget=tuple([round(TRAFFIC_PER_GMV * admitted_gmv)] * periods),
        providers=pd.DataFrame({"provider_id": ids, "status": status, "capacity": capacity}),
        evaluations=evaluations,
    )


def true_uplift(market: PlanMarket, funds: np.ndarray, traffic: np.ndarray) -> np.ndarray:
    """The true expected extra GMV [P, periods] of an allocation ([P, periods] yuan and
    impressions), on the planted rates and the planted response shape."""
    g = market.level(np.arange(funds.shape[1]))
    f = TRUE_FUNDS_EFFECT * funds / (funds + TRUE_FUNDS_HALF * g)
    t = TRUE_TRAFFIC_EFFECT * traffic / (traffic + TRUE_TRAFFIC_HALF * g)
    return g * market.true_uplift[:, None] * (f + t)


def simulate_year_end(
    market: PlanMarket, funds: np.ndarray, traffic: np.ndarray, seed: int
) -> np.ndarray:
    """Realised annual GMV served [P] at the plan's end: the 12 months ending with its last
    month, evaluated months as observed, later ones ``(G̅ + U) · exp(ε)``."""
    rng = np.random.default_rng([seed, 1_000_003])
    T = len(market.periods)
    months = np.arange(T)
    realised = (market.level(months) + true_uplift(market, funds, traffic)) * np.exp(
        rng.normal(0.0, MONTH_NOISE, (market.n, T))
    )
    window = realised[:, -12:].sum(axis=1)
    if T < 12:
        window = window + market.observed[:, -(12 - T) :].sum(axis=1)
    return window  # type: ignore[no-any-return]


def tier_counts(
    annual: np.ndarray, status: np.ndarray, lines: dict[str, float], counted: tuple[str, ...]
) -> dict[str, int]:
    """Providers with a counted status at or above each tier line (code → count)."""
    keep = np.isin(status.astype(str), counted)
    return {code: int((keep & (annual >= line)).sum()) for code, line in lines.items()}
