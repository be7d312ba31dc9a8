"""What an allocation of the plan's resources leads to: how many providers reach each tier of
the windmaker plan by year-end, with the allocation and without it, as a Monte Carlo over what is
uncertain; and each provider's share passed on to its client brands (:func:`to_clients`).

Year-end is the end of the plan's last period; a provider's annual GMV served then is the
trailing 12 months: the months already evaluated as observed, the others drawn. In draw ``s``,
for provider ``p`` (estimates of :mod:`windmaker.ecosystem.allocation_estimate`)::

    u^s   ~ N(ũ_p, sd_p²), cut at 0           (the uplift rate behind the plan's response)
    α^s   ~ N(α_p, (s/√n)²),  β^s ~ N(β_p, se_β²)   (the level and trend of ln GMV served)
    G^s(t) = exp(α^s + β^s · (t − t̄_p))
    GMV^s(t) = (G^s(t) + U(x_t, y_t; G^s(t), u^s)) · exp(ε),  ε ~ N(0, s²)

with ``U`` the response of the allocation in the plan's periods (0 outside them, and 0 for the
forecast without the plan), and ``Y^s = observed + Σ_t GMV^s(t)``. Both forecasts use the same
draws, so their difference is the plan's. The count of providers at or above a tier line is
taken over the providers still in the ecosystem (admitted, probation, warned) in every draw;
the forecast reports its mean, median and the central ``forecast_interval`` (the
``(1 − q)/2`` and ``(1 + q)/2`` quantiles, the lower taken down and the upper up to a whole
count), and each provider's chance of reaching each tier line it is below now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from windmaker.codes import ACTIVE_PROVIDER_STATUSES
from windmaker.ecosystem.allocation import AllocationResult
from windmaker.ecosystem.allocation_estimate import ProviderEstimate, response
from windmaker.ecosystem.config import AllocationConfig, Tier

#: Providers drawn at once (bounds the memory of a forecast: draws × chunk × 12 floats).
_CHUNK = 64


@dataclass(frozen=True)
class CountInterval:
    """A forecast count of providers: mean, median and the central interval [low, high]."""

    mean: float
    median: float
    low: int
    high: int


@dataclass(frozen=True)
class TierForecast:
    """Providers at or above one tier line: now, and at year-end with and without the plan."""

    code: str
    threshold: float
    target: int
    now: int
    with_plan: CountInterval
    without_plan: CountInterval


@dataclass(frozen=True)
class TierChance:
    """A provider's chance of being at or above a tier line at year-end."""

    provider_id: str
    tier: str
    with_plan: float
    without_plan: float


@dataclass(frozen=True)
class Forecast:
    """Per tier the year-end counts; per provider below a line the chance of reaching it."""

    interval: float
    draws: int
    tiers: tuple[TierForecast, ...]
    chances: tuple[TierChance, ...]


def _interval(counts: np.ndarray, q: float) -> CountInterval:
    lo, hi = (1 - q) / 2, (1 + q) / 2
    return CountInterval(
        mean=float(counts.mean()),
        median=float(np.median(counts)),
        low=int(np.quantile(counts, lo, method="lower")),
        high=int(np.quantile(counts, hi, method="higher")),
    )


def year_end_draws(
    estimates: Sequence[ProviderEstimate],
    funds: np.ndarray,
    traffic: np.ndarray,
    config: AllocationConfig,
    *,
    draws: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Annual GMV served at year-end [draws, providers], with the plan and without it."""
    P = len(estimates)
    with_plan, without = np.zeros((draws, P)), np.zeros((draws, P))
    for c0 in range(0, P, _CHUNK):
        chunk = estimates[c0 : c0 + _CHUNK]
        n = len(chunk)
        J = max((len(e.window_offsets) for e in chunk), default=0)
        offsets = np.zeros((n, J))
        valid = np.zeros((n, J), dtype=bool)
        x, y = np.zeros((n, J)), np.zeros((n, J))
        for i, e in enumerate(chunk):
            offsets[i, : len(e.window_offsets)] = e.window_offsets
            valid[i, : len(e.window_offsets)] = not np.isnan(e.log_level)
            plan = {
                round(o, 6): t
                for t, (o, inside) in enumerate(zip(e.plan_offsets, e.plan_in_window, strict=True))
                if inside
            }
            for j, o in enumerate(e.window_offsets):
                t = plan.get(round(o, 6))
                if t is not None:
                    x[i, j], y[i, j] = funds[c0 + i, t], traffic[c0 + i, t]

        def col(name: str, chunk: Sequence[ProviderEstimate] = chunk) -> np.ndarray:
            return np.array([getattr(e, name) for e in chunk], dtype="float64")

        level = np.nan_to_num(col("log_level"))
        u = np.maximum(
            col("uplift_shrunk") + col("uplift_sd") * rng.standard_normal((draws, n)), 0.0
        )
        a = level + col("level_se") * rng.standard_normal((draws, n))
        b = col("trend") + col("trend_se") * rng.standard_normal((draws, n))
        g = np.exp(a[:, :, None] + b[:, :, None] * offsets[None, :, :])
        noise = np.exp(col("noise_sd")[None, :, None] * rng.standard_normal((draws, n, J)))
        lift = response(x[None], y[None], g, u[:, :, None], config)
        observed = col("window_observed")
        with_plan[:, c0 : c0 + n] = observed + ((g + lift) * noise * valid).sum(axis=2)
        without[:, c0 : c0 + n] = observed + (g * noise * valid).sum(axis=2)
    return with_plan, without


def forecast_tiers(
    estimates: Sequence[ProviderEstimate],
    funds: np.ndarray,
    traffic: np.ndarray,
    tiers: Sequence[Tier],
    config: AllocationConfig,
    *,
    counted: Sequence[str] = ACTIVE_PROVIDER_STATUSES,
    seed: int | None = None,
) -> Forecast:
    """The year-end tier counts with the allocation ([providers, periods] funds and traffic)
    and without it (module docstring); ``seed`` overrides ``forecast_seed``."""
    rng = np.random.default_rng(config.forecast_seed if seed is None else seed)
    S = config.forecast_draws
    keep = np.array([e.status in counted for e in estimates], dtype=bool)
    with_plan, without = year_end_draws(estimates, funds, traffic, config, draws=S, rng=rng)
    now = np.array([e.annual_gmv_served for e in estimates], dtype="float64")
    out, chances = [], []
    for tier in sorted(tiers, key=lambda t: -t.min_annual_gmv_served):
        line = tier.min_annual_gmv_served
        hit_with, hit_without = with_plan >= line, without >= line
        out.append(
            TierForecast(
                code=tier.code,
                threshold=line,
                target=tier.target_providers,
                now=int((keep & (now >= line)).sum()),
                with_plan=_interval((hit_with & keep).sum(axis=1), config.forecast_interval),
                without_plan=_interval((hit_without & keep).sum(axis=1), config.forecast_interval),
            )
        )
        p_with, p_without = hit_with.mean(axis=0), hit_without.mean(axis=0)
        for i in np.flatnonzero(keep & (now < line) & (p_with > 0)):
            chances.append(
                TierChance(
                    estimates[int(i)].provider_id, tier.code, float(p_with[i]), float(p_without[i])
                )
            )
    return Forecast(
        interval=config.forecast_interval, draws=S, tiers=tuple(out), chances=tuple(chances)
    )


def to_clients(result: AllocationResult, clients: pd.DataFrame) -> pd.DataFrame:
    """Each line's funds and traffic passed on to the provider's client brands in proportion to
    their monthly GMV (equally when none has any). ``clients``: provider_id, brand_id, base_gmv
    (e.g. the evaluation's ``client_effects``). Columns: provider_id, brand_id, period, share,
    funds, traffic, expected_uplift, reason_code (the line's)."""
    lines = pd.DataFrame(
        [
            (ln.provider_id, ln.period, ln.funds, ln.traffic, ln.expected_uplift, ln.reason_code)
            for ln in result.lines
            if ln.funds > 0 or ln.traffic > 0
        ],
        columns=["provider_id", "period", "funds", "traffic", "expected_uplift", "reason_code"],
    )
    c = clients[["provider_id", "brand_id", "base_gmv"]].drop_duplicates(
        ["provider_id", "brand_id"]
    )
    w = c["base_gmv"].astype("float64").clip(lower=0).fillna(0.0)
    total, count = (
        w.groupby(c["provider_id"]).transform("sum"),
        c.groupby("provider_id")["brand_id"].transform("size"),
    )
    c = c.assign(share=np.where(total > 0, w / total.where(total > 0, 1.0), 1.0 / count))
    out = lines.merge(c[["provider_id", "brand_id", "share"]], on="provider_id")
    for col in ("funds", "traffic", "expected_uplift"):
        out[col] = out[col] * out["share"]
    cols = [
        "provider_id",
        "brand_id",
        "period",
        "share",
        "funds",
        "traffic",
        "expected_uplift",
        "reason_code",
    ]
    return out[cols].sort_values(["provider_id", "brand_id", "period"], ignore_index=True)
