"""Paid-traffic response curves (公域投流 ROI 曲线) and a budget recommendation.

For every brand, daily paid GMV (net GMV of orders whose traffic source is ``paid``) is modelled
as a saturating function of the geometric adstock of daily paid spend, with pymc-marketing's
MMM components. Two saturations, chosen by ``traffic.saturation`` in ``models.yaml``:

**Hill** (default, ``geometric_adstock(normalize=True)`` and ``hill_function``)::

    A_t = Σ_{l<L} α^l s_{t-l} / Σ_{l<L} α^l          (normalised: a constant spend s gives A = s)
    μ_t = β A_t^S / (A_t^S + K^S)                     (K: half-saturation spend per day, S: shape)

S-shaped for S > 1 (the first yuan barely pays, as when a campaign has not yet found its
audience), so the budget is allocated on the curve's concave envelope (:func:`allocate_budget`).

**Logistic** (``geometric_adstock``, ``logistic_saturation``), concave everywhere::

    A_t = Σ_{l=0}^{L-1} α^l s_{t-l}                 (adstock, s in units of the brand's mean spend)
    μ_t = β (1 − e^{−λ A_t}) / (1 + e^{−λ A_t}) = β tanh(λ A_t / 2)
    y_t ~ Normal(μ_t, σ)                             (y in units of the brand's mean paid GMV)

fitted by MAP with weak priors (``models.yaml``). The objective is compiled once with PyTensor
(data as symbolic inputs) and optimised with SciPy for each brand, for the same reason as the
lifetime-value fits: one compilation serves the whole market.

From the curve: the steady-state response to a constant daily spend s is
g(s) = β_y tanh(λ_y k s / 2) with k = Σ α^l, so ROAS(s) = g(s)/s, the marginal ROAS is
g'(s) = (β_y λ_y k / 2) sech²(λ_y k s / 2), and the break-even spend is where g'(s) falls to
1 / gross margin (a yuan of spend must bring back that much GMV to pay for itself). For the
Hill curve, g(s) = β s^S / (s^S + K^S) and the break-even spend is on its concave branch.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol, cast

import ibis
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import optimize, special

from windmaker import contract
from windmaker.models.registry import register

#: The contract's code of paid-promotion traffic.
PAID = "paid"
CANCELLED = "cancelled"
assert PAID in contract.TRAFFIC_SOURCES and CANCELLED in contract.ORDER_STATUSES


# -- configuration ---------------------------------------------------------------------------
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

    @property
    def break_even_roas(self) -> float:
        """Marginal ROAS at which one more yuan of spend stops paying: 1 / gross margin."""
        return 1.0 / self.gross_margin


# -- data (Ibis) -------------------------------------------------------------------------------
def daily_paid(orders: ibis.Table, ad_spend: ibis.Table, *, start: date, end: date) -> ibis.Table:
    """Daily paid spend and paid net GMV per brand, ``start`` to ``end`` inclusive.

    Paid GMV is amount − refund_amount over orders reached through ``paid`` traffic that are not
    cancelled, by the day they were paid. Days without spend or orders are absent (the fit fills
    them with zeros). Columns: brand_id, date, spend (decimal), paid_gmv (decimal).
    """
    o = orders.filter(
        orders.traffic_source == PAID,
        orders.status != CANCELLED,
        orders.paid_at.date() >= start,
        orders.paid_at.date() <= end,
    )
    gmv = (
        o.mutate(date=o.paid_at.date(), net=o.amount - o.refund_amount)
        .group_by(["brand_id", "date"])
        .aggregate(paid_gmv=ibis._.net.sum())
    )
    a = ad_spend.filter(ad_spend.date >= start, ad_spend.date <= end)
    spend = a.group_by(["brand_id", "date"]).aggregate(spend=a.spend.sum())
    j = spend.outer_join(gmv, ["brand_id", "date"])
    return j.select(
        brand_id=ibis.coalesce(j.brand_id, j.brand_id_right),
        date=ibis.coalesce(j.date, j.date_right),
        spend=ibis.coalesce(j.spend, 0).cast("decimal(18,2)"),
        paid_gmv=ibis.coalesce(j.paid_gmv, 0).cast("decimal(18,2)"),
    )


# -- the curve ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResponseCurve:
    """A brand's fitted response, in yuan: g(s) = beta tanh(lam k s / 2), k = Σ_{l<L} alpha^l.

    ``lam`` is per yuan of adstock, ``beta`` is paid GMV per day at saturation.
    """

    alpha: float
    lam: float
    beta: float
    l_max: int
    sigma: float = 0.0
    r2: float = float("nan")
    converged: bool = True
    saturation: str = "logistic"
    concave: bool = True

    @property
    def half_saturation_spend(self) -> float:
        """Daily spend at half of β: tanh(λ k s / 2) = 1/2, s = ln 3 / (λ k)."""
        return math.log(3) / (self.lam * self.carryover)

    @property
    def carryover(self) -> float:
        """k = Σ_{l=0}^{L-1} α^l = (1 − α^L)/(1 − α): steady adstock per yuan of daily spend."""
        if abs(1 - self.alpha) < 1e-12:
            return float(self.l_max)
        return (1 - self.alpha**self.l_max) / (1 - self.alpha)

    def gmv(self, spend: np.ndarray | float) -> np.ndarray:
        """Steady-state daily paid GMV at a constant daily spend: β tanh(λ k s / 2)."""
        return self.beta * np.tanh(self.lam * self.carryover * np.asarray(spend, float) / 2)

    def roas(self, spend: np.ndarray | float) -> np.ndarray:
        """g(s)/s; the limit β λ k / 2 at s = 0."""
        s = np.asarray(spend, float)
        with np.errstate(all="ignore"):
            return np.where(s > 0, self.gmv(s) / s, self.max_marginal_roas)

    @property
    def max_marginal_roas(self) -> float:
        """g'(0) = β λ k / 2, the return on the first yuan."""
        return self.beta * self.lam * self.carryover / 2

    def marginal_roas(self, spend: np.ndarray | float) -> np.ndarray:
        """g'(s) = (β λ k / 2) sech²(λ k s / 2)."""
        u = self.lam * self.carryover * np.asarray(spend, float) / 2
        return self.max_marginal_roas / np.cosh(np.minimum(u, 350)) ** 2

    def spend_at_marginal_roas(self, target: float | np.ndarray) -> np.ndarray:
        """Inverse of g': s = 2 arccosh(√(g'(0)/m)) / (λ k) for m < g'(0), else 0."""
        m = np.asarray(target, float)
        with np.errstate(all="ignore"):
            ratio = np.where(m > 0, self.max_marginal_roas / m, np.inf)
            s = 2 * np.arccosh(np.sqrt(np.maximum(ratio, 1.0))) / (self.lam * self.carryover)
        return np.where(ratio > 1, s, 0.0)


@dataclass(frozen=True)
class HillCurve:
    """A brand's fitted Hill response, in yuan: g(s) = β s^S / (s^S + K^S).

    The adstock is normalised, so a constant daily spend s has steady adstock s and ``kappa``
    (K) is directly the daily spend at half saturation; ``shape`` (S) > 1 makes it S-shaped.
    """

    alpha: float
    kappa: float
    shape: float
    beta: float
    l_max: int
    sigma: float = 0.0
    r2: float = float("nan")
    converged: bool = True
    saturation: str = "hill"

    @property
    def concave(self) -> bool:
        """g is concave on s ≥ 0 iff S ≤ 1."""
        return self.shape <= 1.0

    @property
    def half_saturation_spend(self) -> float:
        """K: g(K) = β / 2."""
        return self.kappa

    @property
    def inflection(self) -> float:
        """Spend where g'' = 0: s* = K ((S − 1)/(S + 1))^{1/S} for S > 1 (0 otherwise).

        g is convex below s* and concave above it, so g' is largest at s*.
        """
        if self.shape <= 1:
            return 0.0
        return self.kappa * ((self.shape - 1) / (self.shape + 1)) ** (1 / self.shape)

    def gmv(self, spend: np.ndarray | float) -> np.ndarray:
        """Steady-state daily paid GMV at a constant daily spend: β s^S / (s^S + K^S)."""
        s = np.maximum(np.asarray(spend, float), 0.0)
        x = (s / self.kappa) ** self.shape
        return self.beta * x / (1 + x)

    def roas(self, spend: np.ndarray | float) -> np.ndarray:
        """g(s)/s; the limit at s = 0 is β/K for S = 1 and 0 for S > 1."""
        s = np.asarray(spend, float)
        lim = self.beta / self.kappa if self.shape == 1 else 0.0
        with np.errstate(all="ignore"):
            return np.where(s > 0, self.gmv(s) / s, lim)

    def marginal_roas(self, spend: np.ndarray | float) -> np.ndarray:
        """g'(s) = β S K^S s^{S−1} / (s^S + K^S)² = (β S / s) x / (1 + x)², x = (s/K)^S."""
        s = np.maximum(np.asarray(spend, float), 1e-300)
        x = (s / self.kappa) ** self.shape
        return self.beta * self.shape / s * x / (1 + x) ** 2

    @property
    def max_marginal_roas(self) -> float:
        """max g' = g'(s*) at the inflection (g'(0) = β/K when S = 1)."""
        if self.shape <= 1:
            return float(self.marginal_roas(1e-12 * self.kappa))
        return float(self.marginal_roas(self.inflection))

    def spend_at_marginal_roas(self, target: float | np.ndarray) -> np.ndarray:
        """The spend on the concave branch (s ≥ s*) where g'(s) = m; 0 when m ≥ max g'.

        g' decreases strictly on [s*, ∞), so a bisection in log s finds it (60 halvings).
        """
        m = np.atleast_1d(np.asarray(target, float))
        low = np.full(m.shape, max(self.inflection, 1e-9 * self.kappa))
        high = np.full(m.shape, self.kappa * 1e6)
        for _ in range(80):
            mid = np.sqrt(low * high)
            above = self.marginal_roas(mid) > m
            low = np.where(above, mid, low)
            high = np.where(above, high, mid)
        out = np.where(m < self.max_marginal_roas, np.sqrt(low * high), 0.0)
        return out.reshape(np.shape(target))


class Curve(Protocol):
    """What the budget and the tables need of a fitted response curve."""

    @property
    def concave(self) -> bool: ...
    @property
    def max_marginal_roas(self) -> float: ...
    def gmv(self, spend: np.ndarray | float) -> np.ndarray: ...
    def marginal_roas(self, spend: np.ndarray | float) -> np.ndarray: ...
    def spend_at_marginal_roas(self, target: float | np.ndarray) -> np.ndarray: ...


def _quiet() -> warnings.catch_warnings[Any]:
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.filterwarnings("ignore", message=".*xtensor module is experimental.*")
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    return ctx


@functools.cache
def _compiled(
    l_max: int, saturation: Literal["logistic", "hill"] = "logistic"
) -> Callable[..., Any]:
    """Negative log posterior of the scaled model and its gradient, compiled once per L and
    saturation.

    Parameters are unconstrained: (logit α, log λ, log β, log σ) for the logistic saturation,
    (logit α, log K, log β, log σ, log S) for Hill. Priors: Beta on α, Gamma on λ or K,
    half-normal on β and σ, S flat within the optimiser's bounds; they are evaluated in the
    original space without the Jacobian, so the optimum is the MAP of the original parameters
    (as ``pm.find_MAP`` does).
    """
    ctx = _quiet()
    try:
        import pytensor
        import pytensor.tensor as pt
        from pymc_marketing.mmm.transformers import (
            geometric_adstock,
            hill_function,
            logistic_saturation,
        )
        from pytensor.graph.rewriting.utils import rewrite_graph
        from pytensor.xtensor import as_xtensor

        theta = pt.vector("theta")
        spend = pt.vector("spend")
        gmv = pt.vector("gmv")
        mask = pt.vector("mask")
        prior = pt.vector("prior")  # a_alpha, b_alpha, k_sat, rate_sat, sd_beta, sd_sigma
        alpha = pt.sigmoid(theta[0])
        sat, beta, sigma = pt.exp(theta[1]), pt.exp(theta[2]), pt.exp(theta[3])
        x = as_xtensor(spend, dims=("date",))
        if saturation == "logistic":
            adstock = geometric_adstock(x, alpha, l_max, dim="date")
            mu = beta * logistic_saturation(adstock, sat).values
        else:
            adstock = geometric_adstock(x, alpha, l_max, dim="date", normalize=True)
            # x^S with x = 0 has an undefined gradient in S: keep the adstock strictly positive.
            mu = beta * hill_function(adstock + 1e-9, pt.exp(theta[4]), sat).values
        mu = cast(Any, rewrite_graph(mu, include=("lower_xtensor",)))
        resid = (gmv - mu) / sigma
        loglik = (mask * (-0.5 * resid**2 - pt.log(sigma))).sum()
        logprior = (
            (prior[0] - 1) * pt.log(alpha)
            + (prior[1] - 1) * pt.log1p(-alpha)
            + (prior[2] - 1) * pt.log(sat)
            - prior[3] * sat
            - 0.5 * (beta / prior[4]) ** 2
            - 0.5 * (sigma / prior[5]) ** 2
        )
        nlp = -(loglik + logprior)
        fn = pytensor.function(
            [theta, spend, gmv, mask, prior], [nlp, cast(Any, pt.grad(nlp, theta))]
        )
        predict = pytensor.function([theta, spend], mu)
    finally:
        ctx.__exit__(None, None, None)

    def both(*args: Any) -> Any:
        return fn(*args)

    both.predict = predict  # type: ignore[attr-defined]
    return both


def _scaled(
    spend: np.ndarray, paid_gmv: np.ndarray, config: TrafficConfig
) -> tuple[np.ndarray, np.ndarray, float, float, np.ndarray]:
    """Spend and GMV in units of their means, the scales, and the likelihood mask."""
    s = np.ascontiguousarray(spend, dtype=np.float64)
    y = np.ascontiguousarray(paid_gmv, dtype=np.float64)
    s_scale = float(s.mean()) if s.mean() > 0 else 1.0
    y_scale = float(y.mean()) if y.mean() > 0 else 1.0
    mask = np.ones_like(s)
    mask[: config.adstock_max_lag_days - 1] = 0.0
    return s / s_scale, y / y_scale, s_scale, y_scale, mask


def _r2(y_n: np.ndarray, mu: np.ndarray, mask: np.ndarray) -> float:
    on = mask > 0
    ss_res = float(((y_n - mu)[on] ** 2).sum())
    ss_tot = float(((y_n[on] - y_n[on].mean()) ** 2).sum())
    return 1 - ss_res / ss_tot if ss_tot > 0 else float("nan")


@register("adstock_hill")
def fit_hill_response(
    spend: np.ndarray, paid_gmv: np.ndarray, config: TrafficConfig | None = None
) -> HillCurve:
    """MAP fit of normalised geometric adstock + Hill saturation to one brand's daily series.

    Multi-start over α (``alpha_starts``) and S ∈ {1, 2}, K started at the mean spend; the first
    L−1 days enter the adstock but not the likelihood.
    """
    config = config or TrafficConfig()
    s_n, y_n, s_scale, y_scale, mask = _scaled(spend, paid_gmv, config)
    pr = config.priors
    prior = np.array(
        [
            *pr.adstock_alpha_beta,
            *pr.hill_kappa_gamma,
            pr.beta_halfnormal_sigma,
            pr.sigma_halfnormal_sigma,
        ]
    )
    fn = _compiled(config.adstock_max_lag_days, "hill")

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        val, grad = fn(theta, s_n, y_n, mask, prior)
        if not np.isfinite(val) or not np.all(np.isfinite(grad)):
            return 1e300, np.zeros(5)
        # PyTensor reuses its output buffers between calls: copy before SciPy keeps a reference.
        return float(val), np.array(grad, dtype=float, copy=True)

    lo_s, hi_s = (math.log(v) for v in pr.hill_shape_bounds)
    bounds = [(-8, 8), (-8, 8), (-10, 10), (-12, 5), (lo_s, hi_s)]
    sd = max(float(y_n[mask > 0].std()), 1e-3)
    best = None
    for a0 in config.alpha_starts:
        for s0 in (1.0, 2.0):
            start = np.array(
                [
                    special.logit(a0),
                    0.0,
                    math.log(max(2 * y_n.max(), 1e-3)),
                    math.log(sd),
                    float(np.clip(math.log(s0), lo_s, hi_s)),
                ]
            )
            with np.errstate(all="ignore"):
                res = optimize.minimize(f, start, jac=True, method="L-BFGS-B", bounds=bounds)
            if best is None or res.fun < best.fun:
                best = res
    assert best is not None
    alpha = float(special.expit(best.x[0]))
    kappa, beta, sigma, shape = (float(v) for v in np.exp(best.x[1:]))
    mu = np.asarray(fn.predict(best.x, s_n))  # type: ignore[attr-defined]
    return HillCurve(
        alpha=alpha,
        kappa=kappa * s_scale,
        shape=shape,
        beta=beta * y_scale,
        l_max=config.adstock_max_lag_days,
        sigma=sigma * y_scale,
        r2=_r2(y_n, mu, mask),
        converged=bool(best.success),
    )


def fit_curve(
    spend: np.ndarray, paid_gmv: np.ndarray, config: TrafficConfig
) -> ResponseCurve | HillCurve:
    """The configured response (``traffic.saturation``) fitted to one brand's daily series."""
    if config.saturation == "hill":
        return fit_hill_response(spend, paid_gmv, config)
    return fit_response(spend, paid_gmv, config)


@register("adstock_saturation")
def fit_response(
    spend: np.ndarray, paid_gmv: np.ndarray, config: TrafficConfig | None = None
) -> ResponseCurve:
    """MAP fit of the (unnormalised) adstock + logistic-saturation response to one brand's series.

    ``spend`` and ``paid_gmv`` are consecutive days (zeros included). The first L−1 days enter
    the adstock but not the likelihood, since their carryover from earlier spend is unknown.
    """
    config = config or TrafficConfig()
    s_n, y_n, s_scale, y_scale, mask = _scaled(spend, paid_gmv, config)
    pr = config.priors
    prior = np.array(
        [
            *pr.adstock_alpha_beta,
            *pr.saturation_lam_gamma,
            pr.beta_halfnormal_sigma,
            pr.sigma_halfnormal_sigma,
        ]
    )
    fn = _compiled(config.adstock_max_lag_days)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        val, grad = fn(theta, s_n, y_n, mask, prior)
        if not np.isfinite(val):
            return 1e300, np.zeros(4)
        # PyTensor reuses its output buffers between calls: copy before SciPy keeps a reference.
        return float(val), np.array(grad, dtype=float, copy=True)

    best = None
    sd = max(float(y_n[mask > 0].std()), 1e-3)
    for a0 in config.alpha_starts:
        start = np.array([special.logit(a0), 0.0, math.log(max(2 * y_n.max(), 1e-3)), math.log(sd)])
        with np.errstate(all="ignore"):
            res = optimize.minimize(
                f,
                start,
                jac=True,
                method="L-BFGS-B",
                bounds=[(-8, 8), (-8, 8), (-10, 10), (-12, 5)],
            )
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    alpha = float(special.expit(best.x[0]))
    lam, beta, sigma = (float(v) for v in np.exp(best.x[1:]))
    mu = np.asarray(fn.predict(best.x, s_n))  # type: ignore[attr-defined]
    return ResponseCurve(
        alpha=alpha,
        lam=lam / s_scale,
        beta=beta * y_scale,
        l_max=config.adstock_max_lag_days,
        sigma=sigma * y_scale,
        r2=_r2(y_n, mu, mask),
        converged=bool(best.success),
    )


def dense_days(daily: pd.DataFrame, start: date, end: date) -> dict[str, pd.DataFrame]:
    """Per brand, one row per day from ``start`` to ``end`` with zeros where nothing happened."""
    days = pd.date_range(start, end, freq="D")
    out = {}
    df = daily.assign(
        date=pd.to_datetime(daily["date"]),
        spend=daily["spend"].astype(float),
        paid_gmv=daily["paid_gmv"].astype(float),
    )
    for brand, g in df.groupby("brand_id", sort=True):
        out[str(brand)] = (
            g.set_index("date")[["spend", "paid_gmv"]]
            .groupby(level=0)
            .sum()
            .reindex(days, fill_value=0.0)
        )
    return out


def fit_market(
    daily: pd.DataFrame,
    brands: pd.DataFrame,
    config: TrafficConfig,
    *,
    start: date,
    end: date,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, ResponseCurve | HillCurve]]:
    """Fit every brand with at least ``min_spend_days`` days of spend; ``mdl_traffic_curves``.

    ``daily`` is :func:`daily_paid` executed; ``brands`` has brand_id and category.
    """
    series = dense_days(daily, start, end)
    cat = brands.set_index("brand_id")["category"].to_dict()
    eligible = [
        b for b, g in series.items() if int((g["spend"] > 0).sum()) >= config.min_spend_days
    ]
    rows: list[dict[str, Any]] = []
    curves: dict[str, ResponseCurve | HillCurve] = {}
    window = config.current_window_days
    for i, brand in enumerate(eligible):
        g = series[brand]
        curve = fit_curve(g["spend"].to_numpy(), g["paid_gmv"].to_numpy(), config)
        curves[brand] = curve
        recent = g.iloc[-window:]
        cur = float(recent["spend"].mean())
        spent = float(recent["spend"].sum())
        be = float(curve.spend_at_marginal_roas(config.break_even_roas))
        rows.append(
            {
                "brand_id": brand,
                "category": cat.get(brand),
                "days": len(g),
                "spend_days": int((g["spend"] > 0).sum()),
                "saturation": curve.saturation,
                "adstock_alpha": curve.alpha,
                "saturation_lam": curve.lam if isinstance(curve, ResponseCurve) else math.nan,
                "half_saturation_adstock": (
                    math.log(3) / curve.lam if isinstance(curve, ResponseCurve) else curve.kappa
                ),
                "half_saturation_spend": curve.half_saturation_spend,
                "hill_shape": curve.shape if isinstance(curve, HillCurve) else math.nan,
                "beta": curve.beta,
                "sigma": curve.sigma,
                "r2": curve.r2,
                "converged": curve.converged,
                "current_spend": cur,
                "roas_observed": float(recent["paid_gmv"].sum()) / spent if spent > 0 else None,
                "roas_model": float(curve.roas(cur)),
                "marginal_roas": float(curve.marginal_roas(cur)),
                "break_even_roas": config.break_even_roas,
                "break_even_spend": be,
                "spend_headroom": be - cur,
            }
        )
        if progress is not None:
            progress(i + 1, len(eligible))
    table = pd.DataFrame(rows)
    if len(table):
        table["category"] = table["category"].astype("string")
        table["saturation"] = table["saturation"].astype("string")
        table["roas_observed"] = table["roas_observed"].astype(float)
    return table, curves


# -- budget ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Allocation:
    """A recommended daily spend per brand and the GMV it is predicted to bring."""

    spend: dict[str, float]
    gmv: dict[str, float]
    marginal_roas: float


def allocate_budget(
    curves: Mapping[str, Curve],
    total: float,
    *,
    lower: dict[str, float] | None = None,
    upper: dict[str, float] | None = None,
    grid_points: int = 2001,
) -> Allocation:
    """Split a daily ``total`` across brands to maximise Σ g_b(s_b), lower_b ≤ s_b ≤ upper_b.

    **Concave curves** (logistic; Hill with S ≤ 1): the constraint Σ s_b = total is linear, so
    the Karush-Kuhn-Tucker conditions are necessary and sufficient: the optimum has one
    multiplier μ with g_b'(s_b) = μ for every brand strictly inside its bounds, g_b'(s_b) ≤ μ at
    its lower bound and ≥ μ at its upper bound (otherwise moving a yuan from the brand with the
    lower marginal ROAS to the one with the higher would raise the total — the exchange argument
    behind greedy marginal-ROAS allocation). For a given μ that allocation is
    s_b(μ) = clip(g_b'^{-1}(μ), lower_b, upper_b), non-increasing and continuous in μ, so a
    bisection on μ finds Σ s_b(μ) = total exactly.

    **S-shaped curves** (Hill with S > 1): g_b is convex below its inflection, so equal marginal
    ROAS is no longer sufficient (a brand at a tiny spend has a *low* marginal ROAS yet may be the
    best place for a large sum). Each g_b is replaced on a grid of ``grid_points`` spends over
    [lower_b, upper_b] by its upper concave envelope ĝ_b ≥ g_b (the hull of the grid points),
    and the budget above Σ lower_b is handed out greedily, the steepest envelope segment first
    (greedy marginal allocation). The envelopes are concave, so by the exchange argument the
    greedy split maximises Σ ĝ_b, an upper bound of the true optimum; every brand ends on a
    vertex of its envelope, where ĝ_b = g_b, except at most the one brand whose segment is cut
    by the budget. The result is therefore within that one segment's envelope gap (and the
    grid step) of the optimum; in practice the spend lands on the concave branch of each curve
    or at its lower bound, never inside a convex stretch, which is what a planner would do.

    When the bounds cannot absorb ``total`` every brand sits at the bound.
    """
    names = sorted(curves)
    lo = np.array([(lower or {}).get(b, 0.0) for b in names])
    hi = np.array([(upper or {}).get(b, np.inf) for b in names])
    if lo.sum() > total:
        s = lo * (total / lo.sum()) if lo.sum() > 0 else lo
        mu = float("nan")
    elif np.isfinite(hi).all() and hi.sum() <= total:
        s, mu = hi.copy(), float("nan")
    elif all(curves[b].concave for b in names):
        s, mu = _allocate_concave(curves, names, total, lo, hi)
    else:
        s, mu = _allocate_envelope(curves, names, total, lo, np.minimum(hi, total), grid_points)
    return Allocation(
        {b: float(v) for b, v in zip(names, s, strict=True)},
        {b: float(curves[b].gmv(v)) for b, v in zip(names, s, strict=True)},
        mu,
    )


def _allocate_concave(
    curves: Mapping[str, Curve], names: list[str], total: float, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, float]:
    """Bisection on the common marginal ROAS μ (see :func:`allocate_budget`)."""

    def alloc(mu: float) -> np.ndarray:
        raw = np.array([float(curves[b].spend_at_marginal_roas(mu)) for b in names])
        return np.clip(raw, lo, hi)

    top = max(curves[b].max_marginal_roas for b in names) * 1.001 + 1e-12
    low, high = 1e-12, top
    for _ in range(200):
        mid = math.sqrt(low * high)
        if alloc(mid).sum() > total:
            low = mid
        else:
            high = mid
        if high / low < 1 + 1e-12:
            break
    mu = math.sqrt(low * high)
    s = alloc(mu)
    # Close the tiny bisection gap on a brand that is free to move.
    gap = total - s.sum()
    free = np.where((s > lo + 1e-9) & (s < hi - 1e-9))[0]
    if len(free):
        s[free[0]] += gap
    return s, mu


def _upper_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the upper concave hull of points sorted by x (Andrew's monotone chain)."""
    hull: list[int] = []
    for i in range(len(x)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # drop b when it lies on or below the chord from a to i
            if (y[b] - y[a]) * (x[i] - x[a]) <= (y[i] - y[a]) * (x[b] - x[a]):
                hull.pop()
            else:
                break
        hull.append(i)
    return np.array(hull)


def _allocate_envelope(
    curves: Mapping[str, Curve],
    names: list[str],
    total: float,
    lo: np.ndarray,
    hi: np.ndarray,
    grid_points: int,
) -> tuple[np.ndarray, float]:
    """Greedy allocation on the concave envelopes of the curves (see :func:`allocate_budget`)."""
    seg_brand, seg_dx, seg_slope = [], [], []
    for k, b in enumerate(names):
        x = np.linspace(lo[k], max(hi[k], lo[k]), grid_points)
        y = np.asarray(curves[b].gmv(x), float)
        h = _upper_hull(x, y)
        dx, dy = np.diff(x[h]), np.diff(y[h])
        keep = dx > 0
        seg_brand.append(np.full(int(keep.sum()), k))
        seg_dx.append(dx[keep])
        seg_slope.append(dy[keep] / dx[keep])
    brand_of = np.concatenate(seg_brand)
    dxs = np.concatenate(seg_dx)
    slopes = np.concatenate(seg_slope)
    # Steepest first; within a brand the envelope's slopes already decrease, so a stable sort
    # keeps each brand's segments in order.
    order = np.argsort(-slopes, kind="stable")
    s = lo.astype(float).copy()
    left = total - lo.sum()
    mu = float("nan")
    for idx in order:
        if left <= 0:
            break
        take = min(float(dxs[idx]), left)
        s[brand_of[idx]] += take
        left -= take
        mu = float(slopes[idx])
    return s, mu


def recommend_budgets(
    curves_table: pd.DataFrame,
    curves: Mapping[str, Curve],
    config: TrafficConfig,
    *,
    portfolio_column: str = "category",
) -> pd.DataFrame:
    """Reallocate each portfolio's current total daily spend across its brands (``mdl_budget``).

    A portfolio is a group of brands (by default one category, the span of one operator); the
    total stays the same, each brand stays within [min_ratio, max_ratio] × its current spend.
    """
    rows = []
    tbl = curves_table[curves_table["current_spend"] > 0]
    for portfolio, g in tbl.groupby(tbl[portfolio_column].fillna(""), sort=True):
        current = dict(zip(g["brand_id"], g["current_spend"].astype(float), strict=True))
        sub = {b: curves[b] for b in current}
        lower = {b: v * config.budget.min_ratio for b, v in current.items()}
        upper = {b: v * config.budget.max_ratio for b, v in current.items()}
        alloc = allocate_budget(sub, sum(current.values()), lower=lower, upper=upper)
        for b, cur in current.items():
            rec = alloc.spend[b]
            rows.append(
                {
                    "portfolio": portfolio or None,
                    "brand_id": b,
                    "current_spend": cur,
                    "recommended_spend": rec,
                    "change": rec - cur,
                    "predicted_gmv_current": float(sub[b].gmv(cur)),
                    "predicted_gmv_recommended": alloc.gmv[b],
                    "marginal_roas_current": float(sub[b].marginal_roas(cur)),
                    "marginal_roas_recommended": float(sub[b].marginal_roas(rec)),
                }
            )
    out = pd.DataFrame(rows)
    if len(out):
        out["portfolio"] = out["portfolio"].astype("string")
    return out


def total_gmv(curves: Mapping[str, Curve], spend: dict[str, float]) -> float:
    """Σ_b g_b(s_b): predicted daily paid GMV of an allocation."""
    return float(sum(curves[b].gmv(s) for b, s in spend.items()))


def simulate_series(
    curve: ResponseCurve, spend: Sequence[float], noise_sd: float = 0.0, seed: int = 0
) -> np.ndarray:
    """Daily paid GMV from ``curve`` for a spend series: β tanh(λ A_t / 2) + noise (tests, demos)."""
    s = np.asarray(spend, float)
    weights = curve.alpha ** np.arange(curve.l_max)
    adstock = np.convolve(s, weights)[: len(s)]
    mu = curve.beta * np.tanh(curve.lam * adstock / 2)
    rng = np.random.default_rng(seed)
    return np.asarray(np.maximum(mu + rng.normal(0, noise_sd, len(s)), 0.0))
