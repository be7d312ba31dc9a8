"""What the allocation of the plan's resources knows of each provider: its uplift rate, its
projected GMV served, and the response of its GMV to the plan's funds and traffic.

**Uplift rate** of provider ``p``, from its stored evaluations: ``m_p`` = the client-weighted
mean of its ``client_uplift_year`` (its clients' monthly log-growth beyond comparable unserved
brands, :mod:`windmaker.ecosystem.evaluation`), over ``n_p`` clients (the mean count behind
those measurements: the trailing-year windows overlap, so months are not independent evidence),
shrunk towards the client-weighted mean ``μ`` over all providers as the evaluation does, with
``k = shrinkage_clients``::

    ũ_p = (n_p · m_p + k · μ) / (n_p + k),    u_p = max(ũ_p, 0)

The shrinkage reads ``k`` as σ²/τ² (the noise of one client's uplift over the spread of the
providers' true rates), so ``Var_p(m_p) = τ² · mean_p(1 + k / n_p)`` gives τ², and ũ_p is
known to ``sd_p = √(τ² · k / (n_p + k))`` (the forecast draws from it).

**Monthly GMV served** ``G_p(t)``: an OLS line of ``ln gmv_served`` on the month over the
provider's history, ``ln G = α_p + β_p · (t − t̄_p)``, with the residual sd ``s`` pooled over
providers (level known to ``s/√n``, trend to ``s/√Σ(t − t̄)²``; a provider with one or two
months is flat, its trend as uncertain as the spread of the others'), projected to each plan
period. The year-end window is the 12 months ending with the plan's last period: the months
already evaluated count as observed, the others as projected; ``B_p`` = observed + Σ projected.

**Response** of provider ``p`` in period ``t`` to funds ``x`` (yuan) and traffic ``y``
(impressions), the expected extra GMV in yuan::

    U_p,t(x, y) = G · u · [a · (1 − exp(−x / (s_f · G))) + b · (1 − exp(−y / (s_t · G)))]

with ``G = G_p(t)``, ``a = funds_effect``, ``b = traffic_effect``, ``s_f = funds_scale`` (yuan
per yuan of monthly GMV served), ``s_t = traffic_scale`` (impressions per yuan). ``G · u`` is the
extra GMV a month the provider's service already brings; funds add up to ``a`` times it and
traffic ``b`` times, with diminishing returns scaled by the provider's size. Marginal returns:
``∂U/∂x = u · a / s_f · exp(−x / (s_f G))`` (yuan of GMV per yuan), likewise for traffic.

The curve's numerics live here too: where the allocation's linear program cuts it
(:func:`breakpoints`) and the exact split of an amount among several curves at one marginal
return (:func:`water_fill`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from windmaker.codes import ProviderStatus
from windmaker.ecosystem.config import AllocationConfig

#: Statuses that receive the plan's resources: admitted and not warned.
ELIGIBLE_STATUSES: tuple[str, ...] = (ProviderStatus.ADMITTED,)
RESOURCES = ("funds", "traffic")


@dataclass(frozen=True)
class EvaluationPoint:
    """One stored evaluation of a provider: the month, its clients, the month's GMV served, the
    trailing-year GMV served (yuan) and its ``client_uplift_year`` (None: not measured)."""

    period: date
    clients: int
    gmv_served: float
    annual_gmv_served: float
    client_uplift_year: float | None

    @classmethod
    def from_stored(
        cls, period: date, gmv_served: object, metrics: Mapping[str, Any]
    ) -> EvaluationPoint:
        """From an evaluation as stored (``ProviderEvaluation.metrics_json`` and its columns)."""
        uplift = metrics.get("client_uplift_year")
        return cls(
            period=period,
            clients=int(metrics.get("clients") or 0),
            gmv_served=float(str(gmv_served)),
            annual_gmv_served=float(str(metrics.get("annual_gmv_served") or 0)),
            client_uplift_year=None if uplift is None else float(uplift),
        )


@dataclass(frozen=True)
class ProviderHistory:
    """A provider's standing and its evaluations, in any order."""

    provider_id: str
    status: str
    capacity: int
    evaluations: tuple[EvaluationPoint, ...]


@dataclass(frozen=True)
class PlanBudget:
    """The plan's budget per period (first day of each month): funds in yuan, traffic in
    impressions."""

    periods: tuple[date, ...]
    funds: tuple[float, ...]
    traffic: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.periods or not len(self.periods) == len(self.funds) == len(self.traffic):
            raise ValueError("a budget needs one funds and one traffic amount per period")
        if any(b <= a for a, b in zip(self.periods, self.periods[1:], strict=False)):
            raise ValueError("budget periods must be increasing")
        if min(self.funds) < 0 or min(self.traffic) < 0:
            raise ValueError("budgets must not be negative")

    def amounts(self, resource: str) -> np.ndarray:
        return np.asarray(self.funds if resource == "funds" else self.traffic, dtype="float64")


@dataclass(frozen=True)
class ProviderEstimate:
    """What the allocation and the forecast know of one provider (see the module docstring)."""

    provider_id: str
    status: str
    capacity: int
    clients: int
    uplift_measured: float | None  # m_p, unshrunk
    uplift_shrunk: float  # ũ_p (may be below 0)
    uplift: float  # u_p = max(ũ_p, 0)
    uplift_sd: float
    annual_gmv_served: float  # latest evaluation's trailing year
    log_level: float  # α_p, ln GMV at the history's centre month (nan: no GMV)
    trend: float  # β_p, per month
    level_se: float
    trend_se: float
    noise_sd: float  # s, month noise of ln GMV
    plan_offsets: tuple[float, ...]  # t − t̄_p of each plan period
    plan_in_window: tuple[bool, ...]  # plan periods within the year-end trailing 12 months
    window_observed: float  # observed GMV of the year-end window's months already evaluated
    window_offsets: tuple[float, ...]  # t − t̄_p of the window's months still to come

    @property
    def eligible(self) -> bool:
        """Admitted (and so not warned): the only standing that receives the plan's resources."""
        return self.status in ELIGIBLE_STATUSES

    def plan_gmv(self) -> np.ndarray:
        """Projected monthly GMV served in each plan period, ``exp(α + β·(t − t̄))``."""
        if np.isnan(self.log_level):
            return np.zeros(len(self.plan_offsets))
        return np.exp(self.log_level + self.trend * np.asarray(self.plan_offsets))

    @property
    def baseline_year_end(self) -> float:
        """Projected annual GMV served at the plan's end without the plan (``B_p``)."""
        if np.isnan(self.log_level):
            return self.window_observed
        future = np.exp(self.log_level + self.trend * np.asarray(self.window_offsets))
        return float(self.window_observed + future.sum())


def _ols(t: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Centre, level at the centre, slope and residual sum of squares of y on t."""
    tc = float(t.mean())
    sxx = float(((t - tc) ** 2).sum())
    slope = float(((t - tc) * (y - y.mean())).sum() / sxx) if sxx > 0 else 0.0
    rss = float(((y - y.mean() - slope * (t - tc)) ** 2).sum())
    return tc, float(y.mean()), slope, rss


def _month(d: date) -> int:
    return d.year * 12 + d.month - 1


def estimate_providers(
    histories: Sequence[ProviderHistory], periods: Sequence[date], config: AllocationConfig
) -> tuple[ProviderEstimate, ...]:
    """Uplift rates and GMV projections of every provider for the plan's ``periods``."""
    k = config.shrinkage_clients
    measured: dict[str, tuple[float, float]] = {}
    fits: dict[str, tuple[float, float, float, float, int, float]] = {}
    for h in histories:
        pts = [e for e in h.evaluations if e.client_uplift_year is not None and e.clients > 0]
        if pts:
            w = np.array([e.clients for e in pts], dtype="float64")
            v = np.array([e.client_uplift_year for e in pts], dtype="float64")
            measured[h.provider_id] = (float((w * v).sum() / w.sum()), float(w.mean()))
        gmv = sorted((_month(e.period), e.gmv_served) for e in h.evaluations if e.gmv_served > 0)
        if gmv:
            t = np.array([g[0] for g in gmv], dtype="float64")
            tc, level, slope, rss = _ols(t, np.log([g[1] for g in gmv]))
            fits[h.provider_id] = (tc, level, slope, rss, len(gmv), float(((t - tc) ** 2).sum()))
    if measured:
        m = np.array([v[0] for v in measured.values()])
        n = np.array([v[1] for v in measured.values()])
        mu = float((m * n).sum() / n.sum())
        tau2 = float(m.var(ddof=1) / np.mean(1 + k / n)) if len(m) > 1 else 0.0
    else:
        mu, tau2 = 0.0, 0.0
    full = [f for f in fits.values() if f[4] >= 3]
    dof = sum(f[4] - 2 for f in full)
    s = float(np.sqrt(sum(f[3] for f in full) / dof)) if dof > 0 else 0.1
    slope_spread = float(np.std([f[2] for f in full], ddof=1)) if len(full) > 1 else 0.02
    plan_idx = np.array([_month(p) for p in periods], dtype="float64")
    window = np.arange(plan_idx[-1] - 11, plan_idx[-1] + 1) if len(periods) else np.arange(0)

    out = []
    for h in histories:
        mp, n_p = measured.get(h.provider_id, (None, 0.0))
        shrunk = mu if mp is None else (n_p * mp + k * mu) / (n_p + k)
        sd = float(np.sqrt(tau2 * k / (n_p + k))) if (n_p + k) > 0 else 0.0
        latest = max(h.evaluations, key=lambda e: e.period) if h.evaluations else None
        observed = {_month(e.period): e.gmv_served for e in h.evaluations}
        last = max(observed) if observed else (plan_idx[0] - 1 if len(plan_idx) else 0)
        if h.provider_id in fits:
            tc, level, slope, _, count, sxx = fits[h.provider_id]
            trend_se = s / np.sqrt(sxx) if count >= 3 and sxx > 0 else slope_spread
            level_se = s / np.sqrt(count)
        else:
            tc, level, slope, trend_se, level_se = float(last), float("nan"), 0.0, 0.0, 0.0
        out.append(
            ProviderEstimate(
                provider_id=h.provider_id,
                status=str(h.status),
                capacity=int(h.capacity),
                clients=latest.clients if latest else 0,
                uplift_measured=mp,
                uplift_shrunk=float(shrunk),
                uplift=max(float(shrunk), 0.0),
                uplift_sd=sd,
                annual_gmv_served=latest.annual_gmv_served if latest else 0.0,
                log_level=level,
                trend=slope,
                level_se=float(level_se),
                trend_se=float(trend_se),
                noise_sd=s,
                plan_offsets=tuple(float(p - tc) for p in plan_idx),
                plan_in_window=tuple(bool(p > plan_idx[-1] - 12) for p in plan_idx),
                window_observed=float(sum(observed.get(int(m), 0.0) for m in window if m <= last)),
                window_offsets=tuple(float(m - tc) for m in window if m > last),
            )
        )
    return tuple(out)


def response(
    funds: np.ndarray,
    traffic: np.ndarray,
    gmv: np.ndarray,
    uplift: np.ndarray,
    config: AllocationConfig,
) -> np.ndarray:
    """Expected extra GMV (yuan) ``G·u·[a(1 − e^(−x/(s_f G))) + b(1 − e^(−y/(s_t G)))]``,
    elementwise (broadcasting); 0 where G is 0."""
    g = np.asarray(gmv, dtype="float64")
    safe = np.where(g > 0, g, 1.0)
    shape = config.funds_effect * -np.expm1(-np.asarray(funds) / (config.funds_scale * safe))
    shape = shape + config.traffic_effect * -np.expm1(
        -np.asarray(traffic) / (config.traffic_scale * safe)
    )
    return np.where(g > 0, g * np.asarray(uplift) * shape, 0.0)


def marginal_return(
    resource: str, amount: np.ndarray, gmv: np.ndarray, uplift: np.ndarray, config: AllocationConfig
) -> np.ndarray:
    """∂U/∂x: yuan of GMV per yuan of funds, or per impression of traffic."""
    effect, scale = curve(resource, config)
    g = np.asarray(gmv, dtype="float64")
    safe = np.where(g > 0, g, 1.0)
    return np.where(
        g > 0, np.asarray(uplift) * effect / scale * np.exp(-amount / (scale * safe)), 0.0
    )


def curve(resource: str, config: AllocationConfig) -> tuple[float, float]:
    if resource == "funds":
        return config.funds_effect, config.funds_scale
    return config.traffic_effect, config.traffic_scale


def breakpoints(
    scale: np.ndarray, lo: np.ndarray, cap: np.ndarray, k: int, *, by_amount: bool = False
) -> np.ndarray:
    """``k + 1`` points from lo to cap ([n, k+1]) at equal steps of ``1 − exp(−x/scale)``:
    dense where the curve bends, bounding the chord's error. ``by_amount`` (a tier candidate's
    curves, whose uplift must reach a line): half of them at equal steps of x instead, which
    bounds how much more a chord asks for a given response than the curve."""
    n_f = k // 2 if by_amount else k
    f_lo, f_cap = -np.expm1(-lo / scale), -np.expm1(-cap / scale)
    q = f_lo[:, None] + (f_cap - f_lo)[:, None] * np.linspace(0.0, 1.0, n_f + 1)[None, :]
    x = -scale[:, None] * np.log1p(-np.minimum(q, 1 - 1e-15))
    if by_amount:
        steps = np.linspace(0.0, 1.0, k - n_f + 1)[None, 1:-1]
        x = np.sort(np.concatenate([x, lo[:, None] + (cap - lo)[:, None] * steps], axis=1), axis=1)
    x[:, 0], x[:, -1] = lo, cap
    return np.clip(np.maximum.accumulate(x, axis=1), lo[:, None], cap[:, None])


def water_fill(
    coef: np.ndarray, scale: np.ndarray, lo: np.ndarray, cap: np.ndarray, amount: float
) -> np.ndarray:
    """The exact best split of ``amount`` above the floors among curves c·(1 − e^(−x/S)):
    one marginal return λ for all, ``x = S · ln(c / (S·λ))`` held to [lo, cap], λ by bisection
    (on ln λ, the sum kept at or under the amount)."""
    room = float((cap - lo).sum())
    if amount >= room:
        return cap.copy()
    if amount <= 0:
        return lo.copy()
    hi_l = np.log(coef / scale) - lo / scale  # ln of each marginal return at its floor
    lo_l = np.log(coef / scale) - cap / scale
    a, b = float(lo_l.min()), float(hi_l.max())  # Σ(x − lo) is room at a, 0 at b
    for _ in range(100):
        mid = 0.5 * (a + b)
        used = float((np.clip(scale * (np.log(coef / scale) - mid), lo, cap) - lo).sum())
        a, b = (mid, b) if used > amount else (a, mid)
    return np.clip(scale * (np.log(coef / scale) - b), lo, cap)  # type: ignore[no-any-return]


def limits(
    estimates: Sequence[ProviderEstimate], config: AllocationConfig, resource: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per provider, what it can take of ``resource`` in a period: its floor ``lo`` (the
    configured minimum, cut to the cap), its cap (the maximum per provider, or the per-client cap
    × the brands it serves: its clients, up to its declared capacity; its clients when it
    declares none), and whether the cap is the per-client one; zeros for a provider that is not
    eligible."""
    if resource == "funds":
        lo_c, hi_c, per = (
            config.min_funds_per_provider,
            config.max_funds_per_provider,
            config.max_funds_per_client,
        )
    else:
        lo_c, hi_c, per = (
            config.min_traffic_per_provider,
            config.max_traffic_per_provider,
            config.max_traffic_per_client,
        )
    brands = np.array(
        [min(e.clients, e.capacity) if e.capacity > 0 else e.clients for e in estimates], float
    )
    eligible = np.array([e.eligible for e in estimates], dtype=bool)
    by_clients = per * brands
    cap = np.where(eligible, np.minimum(hi_c, by_clients), 0.0)
    lo = np.minimum(np.where(eligible, lo_c, 0.0), cap)
    return lo, cap, by_clients < hi_c


def histories_from_frames(
    providers: pd.DataFrame, evaluations: pd.DataFrame
) -> tuple[ProviderHistory, ...]:
    """Histories from a providers frame (provider_id, status, capacity) and an evaluations frame
    (provider_id, period, clients, gmv_served, annual_gmv_served, client_uplift_year), in the
    providers' order; a provider without evaluations has an empty history."""
    by_provider = {
        str(pid): tuple(
            EvaluationPoint(
                period=pd.Timestamp(row.period).date(),
                clients=int(row.clients),
                gmv_served=float(row.gmv_served),
                annual_gmv_served=float(row.annual_gmv_served),
                client_uplift_year=None
                if pd.isna(row.client_uplift_year)
                else float(row.client_uplift_year),
            )
            for row in group.itertuples(index=False)
        )
        for pid, group in evaluations.groupby("provider_id", sort=False)
    }
    return tuple(
        ProviderHistory(
            provider_id=str(row.provider_id),
            status=str(row.status),
            capacity=int(row.capacity),
            evaluations=by_provider.get(str(row.provider_id), ()),
        )
        for row in providers.itertuples(index=False)
    )
