"""Hit-product detection (测款/打爆款): will a new SKU become a hit, judged from its first days.

A SKU is tested through influencers' live sessions. Over its first ``window_days`` of sales we
count its live orders ``y`` and its exposure ``E`` (thousands of viewers of the sessions that sold
it) and model its sales rate per exposure as Gamma–Poisson:

    y | λ ~ Poisson(λ·E),   λ ~ Gamma(α_c, β_c)   (shape α, rate β, per category c)

The prior of each category is fitted by empirical Bayes (maximum marginal likelihood: the
marginal of y is negative binomial), so a SKU with little exposure is pulled toward its
category. The posterior is ``λ | y ~ Gamma(α_c + y, β_c + E)``. A *hit* is a SKU whose rate is
in the top ``hit_share`` of its category's prior, ``λ > λ*_c = F⁻¹_Gamma(1 − hit_share; α_c, β_c)``,
and ``P(hit) = 1 − F_Gamma(λ*_c; α_c + y, β_c + E)``, with an interval for λ to show uncertainty.
Decisions for next week: push (P ≥ push_probability), drop (P < drop_probability after enough
exposure), otherwise keep testing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import ibis
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import optimize, special, stats

from windmaker import contract

DECISIONS = ("push", "keep_testing", "drop")


class HitConfig(BaseModel):
    """Thresholds of hit detection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: int = Field(default=7, ge=1, description="days of sales after the first sale")
    exposure: Literal["fair_share", "viewers"] = Field(
        default="fair_share",
        description="fair_share: the brand's orders over its selling SKUs in the same days; "
        "viewers: thousands of viewers of the sessions that sold the SKU",
    )
    hit_share: float = Field(
        default=0.1, gt=0, lt=1, description="share of a category's SKUs that are hits"
    )
    push_probability: float = Field(default=0.3, gt=0, le=1)
    drop_probability: float = Field(default=0.05, ge=0, lt=1)
    min_exposure_to_drop: float = Field(
        default=5.0,
        ge=0,
        description="exposure before a SKU may be dropped (fair-share orders, or 1,000s of viewers)",
    )
    min_skus_per_category: int = Field(
        default=30, ge=2, description="fewer: use the all-category prior"
    )
    interval: float = Field(
        default=0.8, gt=0, lt=1, description="credible interval of the sales rate"
    )


def launch_window_expression(tables: Mapping[str, ibis.Table], window_days: int) -> ibis.Table:
    """Per SKU: its first sale and its first ``window_days`` of live sales and exposure.

    Columns: sku_id, brand_id, category, launched_at, first_sale, orders (all non-cancelled orders in the
    window), live_orders (those sold in a live session), units, gmv, accounts (distinct sellers),
    sessions (distinct sessions), exposure_k (Σ viewers of those sessions / 1000).
    """
    orders, skus = tables[contract.ORDERS.name], tables[contract.SKUS.name]
    sessions = tables[contract.LIVE_SESSIONS.name]
    o = orders.filter(orders.status != contract.ORDER_STATUSES[4])
    first = o.group_by("sku_id").aggregate(first_sale=o.paid_at.min())
    w = o.join(first, "sku_id")
    # Whole days from the day of the first sale, so the brand's days below line up with it.
    w = w.filter(w.paid_at < w.first_sale.truncate("D") + ibis.interval(days=window_days))
    net = (w.amount - w.refund_amount.fill_null(0)).cast("float64")
    sales = w.group_by(["sku_id", "first_sale"]).aggregate(
        orders=w.count(),
        live_orders=w.session_id.notnull().cast("int64").sum(),
        units=w.quantity.sum(),
        gmv=net.sum(),
        accounts=w.account_id.nunique(),
        sessions=w.session_id.nunique(),
    )
    sold_in = w.filter(w.session_id.notnull()).select("sku_id", "session_id").distinct()
    sv = sold_in.join(sessions.select("session_id", "viewers"), "session_id")
    exposure = sv.group_by("sku_id").aggregate(exposure_k=sv.viewers.cast("float64").sum() / 1000)
    # The brand's orders and selling SKUs over the same days: a SKU's fair share of the
    # brand's sales is brand_orders / brand_skus.
    day = o.paid_at.truncate("D")
    brand_day = o.group_by(["brand_id", day.name("day")]).aggregate(n=o.count())
    brand_day_sku = o.select("brand_id", "sku_id", day=day).distinct()
    win = first.join(skus.select("sku_id", "brand_id"), "sku_id").mutate(
        lo=first.first_sale.truncate("D")
    )
    win = win.mutate(hi=win.lo + ibis.interval(days=window_days))
    bd = win.join(
        brand_day,
        [win.brand_id == brand_day.brand_id, brand_day.day >= win.lo, brand_day.day < win.hi],
    )
    brand_orders = bd.group_by("sku_id").aggregate(brand_orders=bd.n.sum())
    bs = win.join(
        brand_day_sku.rename(other_sku="sku_id"),
        [
            win.brand_id == brand_day_sku.brand_id,
            brand_day_sku.day >= win.lo,
            brand_day_sku.day < win.hi,
        ],
    )
    brand_skus = bs.group_by("sku_id").aggregate(brand_skus=bs.other_sku.nunique())
    sales = sales.join(brand_orders, "sku_id").join(brand_skus, "sku_id")
    out = sales.left_join(exposure, "sku_id").join(
        skus.select("sku_id", "brand_id", "category", "launched_at"), "sku_id"
    )
    return out.select(
        "sku_id",
        "brand_id",
        "category",
        "launched_at",
        "first_sale",
        "orders",
        "live_orders",
        "units",
        "gmv",
        "accounts",
        "sessions",
        "brand_orders",
        "brand_skus",
        exposure_k=out.exposure_k.fill_null(0.0),
    )


@dataclass(frozen=True)
class GammaPrior:
    """Gamma(shape α, rate β) prior of a category's sales rate per 1,000 viewers."""

    alpha: float
    beta: float
    skus: int

    @property
    def mean(self) -> float:
        return self.alpha / self.beta


def fit_gamma_prior(y: np.ndarray, exposure: np.ndarray) -> GammaPrior:
    """Empirical-Bayes Gamma prior by maximum marginal (negative binomial) likelihood.

    ``log p(y|α,β,E) = lnΓ(α+y) − lnΓ(α) − ln y! + α ln(β/(β+E)) + y ln(E/(β+E))``, maximised
    over (ln α, ln β) from a method-of-moments start.
    """
    y = np.asarray(y, dtype=np.float64)
    e = np.asarray(exposure, dtype=np.float64)
    keep = e > 0
    y, e = y[keep], e[keep]
    if len(y) < 2:
        raise ValueError("need at least two SKUs with exposure to fit a prior")
    rate = y / e
    m = max(float(np.average(rate, weights=e)), 1e-6)
    v = max(float(np.var(rate)) - m * float(np.mean(1 / e)), m * m * 0.05)
    start = np.log([m * m / v, m / v])

    def nll(theta: np.ndarray) -> float:
        a, b = np.exp(theta)
        ll = (
            special.gammaln(a + y)
            - special.gammaln(a)
            + a * np.log(b / (b + e))
            + y * np.log(e / (b + e))
        )
        return -float(ll.sum())

    res = optimize.minimize(
        nll, start, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-8}
    )
    a, b = np.exp(res.x if res.success or np.isfinite(res.fun) else start)
    return GammaPrior(float(a), float(b), len(y))


def sales_and_exposure(launches: pd.DataFrame, config: HitConfig) -> tuple[np.ndarray, np.ndarray]:
    """The counts ``y`` and exposures ``E`` of the Poisson model, by ``config.exposure``.

    ``fair_share``: y = the SKU's orders, E = brand_orders / brand_skus (the orders it would
    have had if the brand's sales over those days were split evenly over its selling SKUs), so
    λ is the SKU's sales relative to its brand's average SKU, comparable across brands.
    ``viewers``: y = its live orders, E = thousands of viewers of the sessions that sold it.
    """
    if config.exposure == "fair_share":
        y = launches["orders"].to_numpy(dtype=np.float64)
        e = launches["brand_orders"].to_numpy(dtype=np.float64) / np.maximum(
            launches["brand_skus"].to_numpy(dtype=np.float64), 1.0
        )
        return y, e
    return (
        launches["live_orders"].to_numpy(dtype=np.float64),
        launches["exposure_k"].to_numpy(dtype=np.float64),
    )


def score_hits(launches: pd.DataFrame, config: HitConfig | None = None) -> pd.DataFrame:
    """P(hit), the posterior sales rate with its interval, and next week's decision per SKU.

    Adds columns: prior_alpha, prior_beta, hit_rate_threshold (λ*_c), rate_mean, rate_low,
    rate_high (posterior mean and credible interval of λ, in units of the exposure), p_hit,
    decision (push / keep_testing / drop), reason_code (``hits.<decision>``) and
    reason_params (JSON: P(hit) and the posterior band), rendered by ``i18n.reason_text``.
    """
    c = config or HitConfig()
    df = launches.copy().reset_index(drop=True)
    y, e = sales_and_exposure(df, c)
    global_prior = fit_gamma_prior(y, e)
    priors: dict[str, GammaPrior] = {}
    for cat, idx in df.groupby("category").groups.items():
        ok = e[idx] > 0
        if ok.sum() >= c.min_skus_per_category:
            priors[str(cat)] = fit_gamma_prior(y[idx], e[idx])
    pri = [priors.get(str(cat), global_prior) for cat in df["category"]]
    a0 = np.array([p.alpha for p in pri])
    b0 = np.array([p.beta for p in pri])
    threshold = stats.gamma.ppf(1 - c.hit_share, a0, scale=1 / b0)
    a1, b1 = a0 + y, b0 + e
    p_hit = stats.gamma.sf(threshold, a1, scale=1 / b1)
    tail = (1 - c.interval) / 2
    df["prior_alpha"], df["prior_beta"] = a0, b0
    df["hit_rate_threshold"] = threshold
    df["rate_mean"] = a1 / b1
    df["rate_low"] = stats.gamma.ppf(tail, a1, scale=1 / b1)
    df["rate_high"] = stats.gamma.ppf(1 - tail, a1, scale=1 / b1)
    df["p_hit"] = p_hit
    decision = np.where(
        p_hit >= c.push_probability,
        "push",
        np.where(
            (p_hit < c.drop_probability) & (e >= c.min_exposure_to_drop), "drop", "keep_testing"
        ),
    )
    df["decision"] = decision
    band = "hits.band_fair_share" if c.exposure == "fair_share" else "hits.band_viewers"
    df["reason_code"] = np.char.add("hits.", decision.astype(str)).astype(object)
    df["reason_params"] = [
        json.dumps(
            {
                "p": float(p),
                "band": {
                    "reason": band,
                    "params": {"lo": float(lo), "hi": float(hi), "thr": float(thr)},
                },
            }
        )
        for p, lo, hi, thr in zip(p_hit, df["rate_low"], df["rate_high"], threshold, strict=True)
    ]
    return df


def top_share_rule(launches: pd.DataFrame, share: float = 0.1) -> np.ndarray:
    """The reference rule: call a hit every SKU in the top ``share`` of its category by window sales."""
    rank = launches.groupby("category")["orders"].rank(pct=True, ascending=False, method="first")
    return (rank <= share).to_numpy()


@dataclass(frozen=True)
class HitEvaluation:
    """Precision and recall of hit calls against planted hits, for the model and the rule."""

    skus: int
    hits: int
    precision: dict[str, float]
    recall: dict[str, float]


def evaluate_hits(scored: pd.DataFrame, is_hit: pd.Series, share: float = 0.1) -> HitEvaluation:
    """Compare ``push`` calls with the top-``share``-by-sales rule on the planted truth."""
    truth = scored["sku_id"].astype(str).map(is_hit.astype(bool)).fillna(False).to_numpy(dtype=bool)
    calls = {
        "model": (scored["decision"] == "push").to_numpy(),
        "top_sales_rule": top_share_rule(scored, share),
    }
    precision, recall = {}, {}
    for name, called in calls.items():
        tp = float((called & truth).sum())
        precision[name] = tp / called.sum() if called.sum() else 0.0
        recall[name] = tp / truth.sum() if truth.sum() else 0.0
    return HitEvaluation(len(scored), int(truth.sum()), precision, recall)
