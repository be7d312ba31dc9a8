"""Private-domain lifetime value (私域复购与客户终身价值): BG/NBD, Pareto/NBD and Gamma-Gamma per brand.

The P capability asks how many of a brand's buyers come back and what they are worth. For every
brand this module

1. builds the RFM summary of its buyers from the contract ``orders`` table as an Ibis expression
   (:func:`rfm_summary`: net of refunds, cancelled orders dropped, one purchase occasion per
   buyer × day, time counted in weeks by default at daily resolution), over every buyer's whole
   history: frequency, recency and age T run from the first purchase ever;
2. fits the repeat-purchase model of pymc-marketing's CLV module (BG/NBD, and Pareto/NBD where
   its likelihood is clearly better) and the Gamma-Gamma spend model by MAP with flat priors on
   the positive parameters (which is the maximum-likelihood estimate);
3. predicts, per buyer, expected repurchases and value over 90/180/365 days and the probability
   the buyer is still active, and segments buyers into active fans (活跃粉丝), new (新客), at risk
   (流失风险) and lapsed (已流失) for the action plan.

Why the fit goes below ``BetaGeoModel.fit``: the library builds a new PyMC model, with the data
baked in as constants, for every fit, and compiling it costs seconds. A market has thousands of
brands, so this module compiles the log-likelihood once per model kind, with the library's own
distribution (``pm.logp(BetaGeoNBD.dist(...), value)``) and the data as symbolic inputs, and optimises it with SciPy for each brand. Flat priors make the MAP the maximum of this
likelihood, so the estimates are the library's ``fit(method="map")`` estimates with ``HalfFlat``
priors (a test checks the two agree). Buyers with identical (frequency, recency, T) are one
weighted cell, which shrinks the data several-fold (one-time buyers differ only by T).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, cast

import ibis
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import optimize, special

from windmaker import contract
from windmaker.config import load_yaml_model
from windmaker.models.pareto_nbd import (
    pareto_nbd_expected_purchases,
    pareto_nbd_p_alive,
    quadrature_nll,
)
from windmaker.models.registry import register
from windmaker.models.traffic import TrafficConfig

CONFIG_FILE = "models.yaml"
#: Days in one time unit of the RFM summary.
TIME_UNIT_DAYS = {"day": 1, "week": 7}
SEGMENTS = ("active_fan", "new", "at_risk", "lapsed")
#: Orders in this status are not purchases (the contract's code).
CANCELLED = "cancelled"
assert CANCELLED in contract.ORDER_STATUSES
FitLevel = Literal["brand", "category", "market"]


# -- configuration ---------------------------------------------------------------------------
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


# -- RFM summary (Ibis) ----------------------------------------------------------------------
def rfm_summary(
    orders: ibis.Table,
    *,
    observation_end: date,
    time_unit: Literal["day", "week"] = "week",
) -> ibis.Table:
    """RFM summary per brand × buyer from the contract ``orders`` table, over its whole history.

    A purchase occasion is one buyer's net spend with one brand on one calendar day (Shanghai
    wall clock): orders that are ``cancelled`` or fully refunded are dropped, each remaining
    order counts ``amount - refund_amount``, and a day's orders are summed (a zero-amount order
    is still a purchase, as in CDNOW). Over every day up to ``observation_end`` inclusive, with
    ``u`` days per time unit (7 for ``week``):

    - ``frequency`` x = occasions − 1 (repeat purchases);
    - ``recency`` t_x = (last day − first day) / u;
    - ``T`` = (``observation_end`` − first day) / u;
    - ``monetary_value`` = mean net spend of the repeat occasions (null when x = 0), the ``zbar``
      of the Gamma-Gamma model;
    - ``first_purchase``, ``last_purchase`` (dates), ``net_gmv`` (decimal, all occasions).

    This is the summary of Fader, Hardie & Lee (2005) for CDNOW: days as purchase occasions,
    time in weeks. There is deliberately no start date: a window would drop every buyer who did
    not buy inside it (a long-lived brand's dormant fans, the very buyers a re-engagement plan
    is for) and restart the others' age T at its edge, which biases the fit towards recent,
    active buyers. Speed comes from fitting weighted cells (:func:`rfm_cells`), not from
    cutting history.
    """
    unit = TIME_UNIT_DAYS[time_unit]
    day = orders.paid_at.date()
    # A fully refunded order is no purchase; a zero-amount order (a gift, a free sample) is one.
    fully_refunded = (orders.amount > 0) & (orders.refund_amount >= orders.amount)
    o = orders.filter(orders.status != CANCELLED, ~fully_refunded, day <= observation_end)
    net = (o.amount - o.refund_amount).cast("decimal(18,2)")
    occ = (
        o.mutate(day=o.paid_at.date(), net=net)
        .group_by(["brand_id", "buyer_id", "day"])
        .aggregate(net=ibis._.net.sum())
    )
    per = occ.group_by(["brand_id", "buyer_id"]).aggregate(
        first_purchase=occ.day.min(),
        last_purchase=occ.day.max(),
        occasions=occ.count(),
        net_gmv=occ.net.sum(),
        first_net=occ.net.argmin(occ.day),
    )
    end = ibis.literal(observation_end, type="date")
    frequency = (per.occasions - 1).cast("int64")
    repeat_net = (per.net_gmv - per.first_net).cast("float64")
    return per.select(
        "brand_id",
        "buyer_id",
        frequency=frequency,
        recency=per.last_purchase.delta(per.first_purchase, unit="day").cast("float64") / unit,
        T=end.delta(per.first_purchase, unit="day").cast("float64") / unit,
        monetary_value=ibis.ifelse(frequency > 0, repeat_net / frequency, ibis.null("float64")),
        first_purchase="first_purchase",
        last_purchase="last_purchase",
        net_gmv=per.net_gmv.cast("decimal(18,2)"),
    )


def rfm_cells(rfm: ibis.Table, brands: ibis.Table) -> ibis.Table:
    """Buyers with identical (brand, frequency, recency, T) as one weighted cell: the fit input.

    Columns: brand_id, category, frequency, recency, T, buyers (the weight).
    """
    cat = brands.select("brand_id", "category")
    cells = rfm.group_by(["brand_id", "frequency", "recency", "T"]).aggregate(buyers=rfm.count())
    return cells.left_join(cat, "brand_id").select(
        "brand_id", "category", "frequency", "recency", "T", "buyers"
    )


def repeat_spend(rfm: ibis.Table, brands: ibis.Table) -> ibis.Table:
    """Repeat buyers' (frequency, monetary_value): the Gamma-Gamma fit input."""
    cat = brands.select("brand_id", "category")
    rep = rfm.filter(rfm.frequency > 0, rfm.monetary_value > 0)
    return rep.left_join(cat, "brand_id").select(
        "brand_id", "category", "frequency", "monetary_value"
    )


# -- compiled likelihoods ----------------------------------------------------------------------
@dataclass(frozen=True)
class RepeatFit:
    """A fitted repeat-purchase model: ``bg_nbd`` (r, alpha, a, b) or ``pareto_nbd`` (r, alpha, s, beta)."""

    model: Literal["bg_nbd", "pareto_nbd"]
    params: dict[str, float]
    loglik: float
    buyers: int
    converged: bool
    loglik_bg_nbd: float | None = None
    loglik_pareto_nbd: float | None = None


@dataclass(frozen=True)
class SpendFit:
    """A fitted Gamma-Gamma spend model: shape p, q and scale gamma (the library's ``v``)."""

    p: float
    q: float
    gamma: float
    loglik: float
    buyers: int
    converged: bool

    @property
    def population_mean(self) -> float:
        """E[spend per occasion] = gamma p / (q − 1), finite only for q > 1."""
        return self.gamma * self.p / (self.q - 1) if self.q > 1 else math.inf


def _quiet_pytensor() -> warnings.catch_warnings[Any]:
    """Silence two known notices of the numerical stack (experimental xtensor, no BLAS found)."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.filterwarnings("ignore", message=".*xtensor module is experimental.*")
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    return ctx


@functools.cache
def _blas_controller() -> Any:
    """One threadpool controller for the process: finding the loaded libraries costs 20 ms."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread() -> Any:
    """Hold BLAS to one thread while fitting.

    SciPy's L-BFGS-B makes tiny BLAS calls on every iteration; a threaded OpenBLAS wakes its
    threads for each of them, which on a loaded 2-core machine cost 5 ms per iteration (half
    the benchmark market's fit time) against 33 µs with one thread. The fits are sequential
    and their arrays small, so a second BLAS thread never helps them.
    """
    return _blas_controller().limit(limits=1, user_api="blas")


@functools.cache
def _compiled(kind: str) -> Callable[..., Any]:
    """Negative log-likelihood and its gradient in log-parameters, compiled once per process.

    Inputs: (log θ, x, t_x, T, weights) for BG/NBD, (log θ, x, zbar, weights) for Gamma-Gamma;
    the data are symbolic, so one compiled function serves every brand.
    """
    ctx = _quiet_pytensor()
    try:
        import pymc as pm
        import pytensor
        import pytensor.tensor as pt
        from pymc_marketing.clv.distributions import BetaGeoNBD

        theta = pt.vector("log_theta")
        params = [pt.exp(theta[i]) for i in range(3 if kind == "gamma_gamma" else 4)]
        x = pt.vector("x")
        w = pt.vector("w")
        if kind == "gamma_gamma":
            zbar = pt.vector("zbar")
            p, q, v = params
            # Fader & Hardie (2013) eq. 1a, the same expression as GammaGammaModel's potential.
            ll = (
                pt.gammaln(p * x + q)
                - pt.gammaln(p * x)
                - pt.gammaln(q)
                + q * pt.log(v)
                + (p * x - 1) * pt.log(zbar)
                + (p * x) * pt.log(x)
                - (p * x + q) * pt.log(x * zbar + v)
            )
            nll = -(w * ll).sum()
            inputs = [theta, x, zbar, w]
        else:
            t_x = pt.vector("t_x")
            big_t = pt.vector("T")
            value = pt.stack([t_x, x], axis=1)
            p0, p1, p2, p3 = params
            dist = BetaGeoNBD.dist(r=p0, alpha=p1, a=p2, b=p3, T=big_t)
            nll = -(w * pm.logp(dist, value)).sum()
            inputs = [theta, x, t_x, big_t, w]
        fn = pytensor.function(inputs, [nll, cast(Any, pt.grad(nll, theta))])
    finally:
        ctx.__exit__(None, None, None)
    return fn  # type: ignore[no-any-return]


#: L-BFGS-B stopping rule: relative decrease of the mean log-likelihood below 1e-13, or every
#: gradient component below 1e-9. SciPy's defaults (2.2e-9, 1e-5) stop where the flat ridge
#: of (r, α) still moves a few 1e-5; this costs a few iterations more and makes the estimate
#: reproducible to 1e-6 whichever order or grouping of the buyers it is given.
_LBFGSB_OPTIONS = {"ftol": 1e-13, "gtol": 1e-9, "maxiter": 1000}


def _minimise(
    fn: Callable[..., Any], start: np.ndarray, data: Sequence[np.ndarray], *, polish: bool = True
) -> Any:
    """L-BFGS-B on the mean negative log-likelihood per buyer; ``fun`` is returned as the total.

    Per-buyer scaling keeps the first step of the line search sane on large brands, whose
    total gradient would otherwise throw the parameters to their bounds. ``polish`` continues
    with the tight stopping rule (see ``_LBFGSB_OPTIONS``).
    """
    n = max(float(np.sum(data[-1])), 1.0)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        val, grad = fn(theta, *data)
        # PyTensor reuses its output buffers between calls: copy before SciPy keeps a reference.
        grad = np.array(grad, dtype=float, copy=True) / n
        if not np.isfinite(val) or not np.isfinite(grad).all():
            return 1e10, np.zeros_like(theta)
        return float(val) / n, grad

    bounds = [(-15.0, 15.0)] * len(start)
    with np.errstate(all="ignore"), _one_blas_thread():
        res = optimize.minimize(f, start, jac=True, method="L-BFGS-B", bounds=bounds)
        if not polish:
            res.fun = float(res.fun) * n
            return res
        # Polish from there with the tight rule. Convergence is judged by SciPy's default
        # rule (either run): the tight one can end in a line search that cannot improve at
        # machine precision, e.g. Gamma-Gamma's q and γ drifting together towards their
        # bounds when spend is homogeneous.
        tight = optimize.minimize(
            f, res.x, jac=True, method="L-BFGS-B", bounds=bounds, options=_LBFGSB_OPTIONS
        )
    if tight.fun <= res.fun:
        res.x, res.fun, res.success = tight.x, tight.fun, bool(res.success or tight.success)
    res.fun = float(res.fun) * n
    return res


def _as_float(a: Iterable[float] | np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64))


@register("bg_nbd")
def fit_bg_nbd(
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray | None = None,
) -> RepeatFit:
    """BG/NBD (Fader, Hardie & Lee 2005) maximum likelihood = MAP with flat priors.

    LL(r, α, a, b | x, t_x, T) = ln Γ(r+x) − ln Γ(r) + ln Γ(a+b) + ln Γ(b+x) − ln Γ(b)
    − ln Γ(a+b+x) + r ln α − (r+x) ln(α+t_x)
    + ln[((α+t_x)/(α+T))^(r+x) + 1{x>0} a/(b+x−1)], summed over buyers with their weights.
    """
    x, tx, tt = _as_float(frequency), _as_float(recency), _as_float(T)
    w = np.ones_like(x) if weights is None else _as_float(weights)
    # b = 1 is a removable singularity of a/(b+x−1) at x = 0 (NaN gradient): start away from it.
    start = np.log([1.0, max(float(np.average(tt, weights=w)) / 4, 1e-3), 0.8, 2.5])
    res = _minimise(_compiled("bg_nbd"), start, (x, tx, tt, w))
    r, alpha, a, b = np.exp(res.x)
    return RepeatFit(
        "bg_nbd",
        {"r": r, "alpha": alpha, "a": a, "b": b},
        -float(res.fun),
        int(w.sum()),
        bool(res.success),
        loglik_bg_nbd=-float(res.fun),
    )


@register("pareto_nbd")
def fit_pareto_nbd(
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray | None = None,
    start_from: RepeatFit | None = None,
) -> RepeatFit:
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987) maximum likelihood.

    Purchases are Poisson(λ) while alive, λ ~ Gamma(r, α); lifetimes are Exponential(μ),
    μ ~ Gamma(s, β). Optimised like BG/NBD (L-BFGS-B with the exact gradient of a compiled
    likelihood) on the integral form of the likelihood; the log-likelihood reported, which
    decides between the models, is the ₂F₁ form at the optimum (:mod:`.pareto_nbd`).
    Differencing SciPy's ₂F₁ instead cost five likelihoods per step and 20 times more per
    likelihood where s is large: 0.9 CPU-second per brand of the demo market against
    0.02 for BG/NBD.

    s and β lie on a flat ridge of the likelihood when the buyers' dropout rates hardly
    differ (s → ∞ with s/β fixed): the optimiser's stopping point along it moves with the
    start, while the log-likelihood and the predictions do not.

    ``start_from``, a BG/NBD fit of the same buyers, gives the optimiser a warm start: r and α
    mean the same purchase-rate Gamma in both models, and the dropout rate per unit of time
    is about the BG/NBD dropout per purchase times the purchase rate, E[μ] = s/β ≈
    a/(a+b) · r/α (started with s = 1).
    """
    x, tx, tt = _as_float(frequency), _as_float(recency), _as_float(T)
    w = np.ones_like(x) if weights is None else _as_float(weights)
    mean_t = max(float(np.average(tt, weights=w)), 1e-3)
    start = np.log([0.5, mean_t / 4, 0.5, mean_t])
    if start_from is not None and start_from.model == "bg_nbd" and start_from.converged:
        q = start_from.params
        dropout = q["a"] / (q["a"] + q["b"]) * q["r"] / q["alpha"]
        warm = np.log([q["r"], q["alpha"], 1.0, 1.0 / max(dropout, 1e-6)])
        if np.all(np.isfinite(warm)) and np.all(np.abs(warm) < 15):
            start = warm
    # No tight polish: along the ridge it would walk s towards infinity for a gain below 1e-9.
    res = _minimise(quadrature_nll, start, (x, tx, tt, w), polish=False)
    r, alpha, s, beta = np.exp(res.x)
    loglik = -float(res.fun)
    return RepeatFit(
        "pareto_nbd",
        {"r": r, "alpha": alpha, "s": s, "beta": beta},
        loglik,
        int(w.sum()),
        bool(res.success),
        loglik_pareto_nbd=loglik,
    )


@register("gamma_gamma")
def fit_gamma_gamma(
    frequency: np.ndarray, monetary_value: np.ndarray, weights: np.ndarray | None = None
) -> SpendFit:
    """Gamma-Gamma spend model (Fader & Hardie 2013) on repeat buyers, flat priors.

    The mean of x repeat transactions, zbar, given ν is Gamma(p x, ν x); ν ~ Gamma(q, γ):
    LL = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln zbar + px ln x − (px+q) ln(x zbar+γ).
    """
    x, z = _as_float(frequency), _as_float(monetary_value)
    w = np.ones_like(x) if weights is None else _as_float(weights)
    start = np.log([1.0, 2.0, max(float(np.average(z, weights=w)), 1e-3)])
    res = _minimise(_compiled("gamma_gamma"), start, (x, z, w))
    p, q, gamma = np.exp(res.x)
    return SpendFit(p, q, gamma, -float(res.fun), int(w.sum()), bool(res.success))


def fit_repeat(
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    try_pareto: bool = True,
    min_gain: float = 2.0,
) -> RepeatFit:
    """BG/NBD, replaced by Pareto/NBD when its log-likelihood is higher by at least ``min_gain``.

    Both have four parameters, so the likelihood comparison is the AIC/BIC comparison; the
    margin keeps the simpler, closed-form BG/NBD unless Pareto/NBD is clearly better.
    """
    bg = fit_bg_nbd(frequency, recency, T, weights)
    if not try_pareto:
        return bg
    pn = fit_pareto_nbd(frequency, recency, T, weights, start_from=bg)
    if pn.converged and (not bg.converged or pn.loglik > bg.loglik + min_gain):
        return _replace(pn, loglik_bg_nbd=bg.loglik)
    return _replace(bg, loglik_pareto_nbd=pn.loglik)


def _replace(fit: RepeatFit, **changes: Any) -> RepeatFit:
    from dataclasses import replace

    return replace(fit, **changes)


# -- predictions (closed forms) ----------------------------------------------------------------
def bg_nbd_p_alive(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, r: float, alpha: float, a: float, b: float
) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + 1{x>0} a/(b+x−1) ((α+T)/(α+t_x))^(r+x)) (FHL 2008)."""
    x, t_x, T = _as_float(x), _as_float(t_x), _as_float(T)
    with np.errstate(all="ignore"):
        log_ratio = (
            np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
        out = 1.0 / (1.0 + np.exp(np.minimum(log_ratio, 700)))
    return np.where(x > 0, out, 1.0)


def bg_nbd_expected_purchases(
    t: float,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> np.ndarray:
    """E[Y(t) | x, t_x, T], FHL (2005) eq. 10.

    ((a+b+x−1)/(a−1)) [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]
    / (1 + 1{x>0} a/(b+x−1) ((α+T)/(α+t_x))^(r+x)).
    """
    x, t_x, T = _as_float(x), _as_float(t_x), _as_float(T)
    with np.errstate(all="ignore"):
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        out = num * bg_nbd_p_alive(x, t_x, T, r, alpha, a, b)
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=0.0), 0.0, None)


def gamma_gamma_expected_spend(
    x: np.ndarray, monetary_value: np.ndarray, p: float, q: float, gamma: float
) -> np.ndarray:
    """E[spend per occasion | x, zbar] = (q−1)/(px+q−1) · γp/(q−1) + px/(px+q−1) · zbar.

    For x = 0 (no repeat spend observed) this is the population mean γp/(q−1).
    """
    x = _as_float(x)
    z = np.nan_to_num(_as_float(monetary_value), nan=0.0)
    pop = gamma * p / (q - 1) if q > 1 else float(np.nan)
    weight = p * x / (p * x + q - 1)
    return (1 - weight) * pop + weight * z


def p_alive(fit: RepeatFit, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Probability each buyer is still active, under ``fit``'s model."""
    if fit.model == "bg_nbd":
        return bg_nbd_p_alive(x, t_x, T, **fit.params)
    return pareto_nbd_p_alive(x, t_x, T, **fit.params)


def expected_purchases(
    fit: RepeatFit, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Expected purchases of each buyer over the next ``t`` time units, under ``fit``'s model."""
    if fit.model == "bg_nbd":
        return bg_nbd_expected_purchases(t, x, t_x, T, **fit.params)
    return pareto_nbd_expected_purchases(t, x, t_x, T, **fit.params)


def segment_buyers(
    frequency: np.ndarray,
    alive: np.ndarray,
    days_since_first: np.ndarray,
    config: SegmentConfig,
) -> np.ndarray:
    """Segment per buyer (RFM): active_fan, new, at_risk or lapsed.

    Repeat buyers by P(alive): ≥ ``active_min`` active fan, ≥ ``at_risk_min`` at risk, else
    lapsed. One-time buyers (BG/NBD gives them P(alive) = 1, which says nothing) by recency:
    first purchase within ``new_within_days`` new, within ``lapse_after_days`` at risk, else lapsed.
    """
    x = np.asarray(frequency)
    repeat = np.where(
        alive >= config.active_min,
        "active_fan",
        np.where(alive >= config.at_risk_min, "at_risk", "lapsed"),
    )
    once = np.where(
        days_since_first <= config.new_within_days,
        "new",
        np.where(days_since_first <= config.lapse_after_days, "at_risk", "lapsed"),
    )
    return np.where(x > 0, repeat, once).astype(object)


# -- a whole market ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BrandClv:
    """One brand's fitted models and where they come from (brand, category or market level)."""

    brand_id: str
    category: str | None
    buyers: int
    repeat_buyers: int
    repeat: RepeatFit
    repeat_level: FitLevel
    spend: SpendFit | None
    spend_level: FitLevel
    notes: tuple[str, ...] = field(default=())


def fit_market(
    cells: pd.DataFrame,
    spend: pd.DataFrame,
    config: ClvConfig,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[BrandClv]:
    """Fit every brand with at least ``min_buyers`` buyers; the rest get their category's fit.

    ``cells`` is :func:`rfm_cells` executed (brand_id, category, frequency, recency, T, buyers);
    ``spend`` is :func:`repeat_spend` executed. A category with too few buyers in total falls back
    to the whole market's fit. Every fit reuses the same compiled likelihoods.
    """
    cells = cells.assign(category=cells["category"].fillna("")).reset_index(drop=True)
    spend = spend.assign(category=spend["category"].fillna("")).reset_index(drop=True)
    buyers = cells.groupby("brand_id")["buyers"].sum()
    cat_of = cells.groupby("brand_id")["category"].first()
    repeat_n = spend.groupby("brand_id").size().reindex(buyers.index, fill_value=0)

    def repeat_fit(df: pd.DataFrame) -> RepeatFit:
        g = df.groupby(["frequency", "recency", "T"], as_index=False)["buyers"].sum()
        return fit_repeat(
            g["frequency"].to_numpy(),
            g["recency"].to_numpy(),
            g["T"].to_numpy(),
            g["buyers"].to_numpy(),
            try_pareto=config.pareto_nbd,
            min_gain=config.pareto_min_loglik_gain,
        )

    def spend_fit(df: pd.DataFrame) -> SpendFit | None:
        if len(df) < 2:
            return None
        return fit_gamma_gamma(df["frequency"].to_numpy(), df["monetary_value"].to_numpy())

    big = [b for b in buyers.index if buyers[b] >= config.min_buyers]
    small_cats = sorted({cat_of[b] for b in buyers.index if buyers[b] < config.min_buyers})
    spend_small_cats = sorted(
        {cat_of[b] for b in buyers.index if repeat_n[b] < config.min_repeat_buyers}
    )
    total = len(big) + len(small_cats) + len(spend_small_cats)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    # The pooled market fits are the largest; fit them only when a category needs them.
    market_repeat = functools.cache(lambda: repeat_fit(cells))
    market_spend = functools.cache(lambda: spend_fit(spend))
    cat_repeat: dict[str, tuple[RepeatFit, FitLevel]] = {}
    for cat in small_cats:
        part = cells[cells["category"] == cat]
        if part["buyers"].sum() >= config.min_buyers:
            cat_repeat[cat] = (repeat_fit(part), "category")
        else:
            cat_repeat[cat] = (market_repeat(), "market")
        tick()
    cat_spend: dict[str, tuple[SpendFit | None, FitLevel]] = {}
    for cat in spend_small_cats:
        part = spend[spend["category"] == cat]
        fit = spend_fit(part) if len(part) >= config.min_repeat_buyers else None
        cat_spend[cat] = (fit, "category") if fit is not None else (market_spend(), "market")
        tick()

    by_brand_cells = dict(tuple(cells.groupby("brand_id", sort=False)))
    by_brand_spend = dict(tuple(spend.groupby("brand_id", sort=False)))
    out: list[BrandClv] = []
    for brand in buyers.index:
        cat = cat_of[brand]
        n, n_rep = int(buyers[brand]), int(repeat_n[brand])
        notes: list[str] = []
        if n >= config.min_buyers:
            rfit, rlevel = repeat_fit(by_brand_cells[brand]), "brand"
            tick()
        else:
            rfit, rlevel = cat_repeat[cat]
            notes.append(f"{n} buyers < min_buyers {config.min_buyers}: {rlevel}-level fit")
        sfit: SpendFit | None
        if n_rep >= config.min_repeat_buyers:
            sfit, slevel = spend_fit(by_brand_spend[brand]), "brand"
        else:
            sfit, slevel = cat_spend[cat]
            notes.append(f"{n_rep} repeat buyers: {slevel}-level spend model")
        if sfit is not None and sfit.q <= 1:
            notes.append("Gamma-Gamma q <= 1: mean spend unbounded, observed mean used")
        out.append(
            BrandClv(
                str(brand),
                cat or None,
                n,
                n_rep,
                rfit,
                rlevel,  # type: ignore[arg-type]
                sfit,
                slevel,  # type: ignore[arg-type]
                tuple(notes),
            )
        )
    return out


def score_buyers(
    rfm: pd.DataFrame, fits: Sequence[BrandClv], config: ClvConfig, observation_end: date
) -> pd.DataFrame:
    """Per buyer: P(alive), expected purchases and value over each horizon, and the segment.

    ``rfm`` is :func:`rfm_summary` executed. Expected value over h days = expected purchases
    × Gamma-Gamma expected spend per occasion (undiscounted yuan).
    """
    unit = config.unit_days
    by_brand = {f.brand_id: f for f in fits}
    parts = []
    for brand, df in rfm.groupby("brand_id", sort=False):
        fit = by_brand.get(str(brand))
        if fit is None:
            continue
        x = df["frequency"].to_numpy(dtype=float)
        tx = df["recency"].to_numpy(dtype=float)
        tt = df["T"].to_numpy(dtype=float)
        mv = df["monetary_value"].to_numpy(dtype=float)
        alive = p_alive(fit.repeat, x, tx, tt)
        if fit.spend is not None and fit.spend.q > 1:
            spend = gamma_gamma_expected_spend(x, mv, fit.spend.p, fit.spend.q, fit.spend.gamma)
        else:
            first = df["net_gmv"].astype(float).to_numpy() - np.nan_to_num(mv) * x
            spend = np.where(x > 0, mv, first)
        out = pd.DataFrame(
            {
                "brand_id": df["brand_id"].to_numpy(),
                "buyer_id": df["buyer_id"].to_numpy(),
                "frequency": x.astype(np.int64),
                "recency": tx,
                "T": tt,
                "monetary_value": mv,
                "p_alive": alive,
            }
        )
        for h in config.horizons_days:
            e = expected_purchases(fit.repeat, h / unit, x, tx, tt)
            out[f"expected_purchases_{h}d"] = e
            out[f"expected_value_{h}d"] = e * spend
        days_since_first = tt * unit
        out["segment"] = segment_buyers(x, alive, days_since_first, config.segments)
        out["last_purchase"] = pd.to_datetime(df["last_purchase"]).dt.date.to_numpy()
        parts.append(out)
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)


def brand_table(
    fits: Sequence[BrandClv], buyers: pd.DataFrame, config: ClvConfig, observation_end: date
) -> pd.DataFrame:
    """One row per brand: fitted parameters, fit level, per-buyer predictions and segment counts.

    This is ``mdl_clv_brand``; money columns are per buyer (yuan).
    """
    rows = []
    agg = {}
    if len(buyers):
        g = buyers.groupby("brand_id")
        agg = {
            "p_alive_mean": g["p_alive"].mean(),
            **{
                f"expected_purchases_{h}d": g[f"expected_purchases_{h}d"].mean()
                for h in config.horizons_days
            },
            **{
                f"value_per_buyer_{h}d": g[f"expected_value_{h}d"].mean()
                for h in config.horizons_days
            },
        }
        seg = buyers.groupby(["brand_id", "segment"]).size().unstack(fill_value=0)
    for f in fits:
        row: dict[str, Any] = {
            "brand_id": f.brand_id,
            "category": f.category,
            "observation_end": observation_end,
            "time_unit": config.time_unit,
            "buyers": f.buyers,
            "repeat_buyers": f.repeat_buyers,
            "repeat_model": f.repeat.model,
            "fit_level": f.repeat_level,
            "r": f.repeat.params["r"],
            "alpha": f.repeat.params["alpha"],
            "a": f.repeat.params.get("a"),
            "b": f.repeat.params.get("b"),
            "s": f.repeat.params.get("s"),
            "beta": f.repeat.params.get("beta"),
            "loglik": f.repeat.loglik,
            "loglik_bg_nbd": f.repeat.loglik_bg_nbd,
            "loglik_pareto_nbd": f.repeat.loglik_pareto_nbd,
            "spend_fit_level": f.spend_level,
            "gg_p": f.spend.p if f.spend else None,
            "gg_q": f.spend.q if f.spend else None,
            "gg_gamma": f.spend.gamma if f.spend else None,
            "notes": "; ".join(f.notes),
        }
        for name, series in agg.items():
            row[name] = float(series.get(f.brand_id, np.nan))
        for s in SEGMENTS:
            row[f"{s}_buyers"] = (
                int(seg[s].get(f.brand_id, 0)) if len(buyers) and s in seg.columns else 0
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    # Typed columns even when every brand leaves one empty (e.g. no Pareto/NBD fit anywhere).
    for col in ("a", "b", "s", "beta", "loglik_bg_nbd", "loglik_pareto_nbd", "gg_p", "gg_q"):
        out[col] = out[col].astype(float)
    out["gg_gamma"] = out["gg_gamma"].astype(float)
    out["category"] = out["category"].astype("string")
    return out


__all__ = [
    "SEGMENTS",
    "BrandClv",
    "ClvConfig",
    "ModelsConfig",
    "RepeatFit",
    "SpendFit",
    "bg_nbd_expected_purchases",
    "bg_nbd_p_alive",
    "brand_table",
    "expected_purchases",
    "fit_bg_nbd",
    "fit_gamma_gamma",
    "fit_market",
    "fit_pareto_nbd",
    "fit_repeat",
    "gamma_gamma_expected_spend",
    "load_models_config",
    "p_alive",
    "pareto_nbd_expected_purchases",
    "pareto_nbd_p_alive",
    "rfm_cells",
    "rfm_summary",
    "score_buyers",
    "segment_buyers",
]
