"""From latent skills and GMV targets to the expected order flow of every brand-month.

- orders T = GMV target / AOV / (1 − expected refund and cancel loss);
- self-sold share σ = clip(base + w_s·s_self − w_d·(s_dist − 0.5), 0.03, 0.95) (品牌自播);
- paid orders = min(paid_base + paid_weight·s_traffic, 0.8)·σ·A: that share of the self-sold
  new buyers comes through paid promotion, when the brand advertises;
- platform recommendation share of other new-buyer orders = recommend_base + w·s_traffic;
- special-supply share = special_weight·s_special² once the brand has special-supply SKUs;
- private domain, month by month: the effective skill s̃[m] = c·s̃[m − 1] + (1 − c)·s[m]
  (geometric carryover c = ``repeat.carryover`` of the month's private-domain skill s) sets the
  probability that a buyer acquired in month m follows the main account,
  follow_base + follow_weight·s̃[m], and the month's repeat-purchase rate factor
  g[m] = (rate_base + rate_weight·s̃[m]) / (rate_base + rate_weight·s̄), s̄ the brand's mean of
  s̃ (which sets its BG/NBD truth): a provider's work on the private domain shows in the
  months it happens;
- new buyers A per month so that new + expected BG/NBD repeat orders (on the brand's
  month-by-month clock) meet T (``buyers``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.contract import CAPABILITIES
from windmaker.simulator.brands import Brands
from windmaker.simulator.buyers import (
    RepeatTruth,
    acquisitions,
    cohort_repeat_kernel,
    repeat_truth,
)
from windmaker.simulator.catalog import Catalog
from windmaker.simulator.config import SimulatorParams
from windmaker.simulator.distribution import row_mean
from windmaker.simulator.ladder import LadderPlan

S_SELF, S_TRAFFIC, S_DIST, S_PRIVATE, S_SPECIAL = (CAPABILITIES.index(c) for c in CAPABILITIES)


@dataclass(frozen=True)
class Demand:
    """Expected order flow per brand-month (arrays [N, M]) and per brand."""

    orders: np.ndarray
    self_share: np.ndarray
    paid_orders: np.ndarray
    recommend: np.ndarray
    special_share: np.ndarray
    acquisitions: np.ndarray
    follow: np.ndarray  # per brand: mean over its months of ``follow_month``
    follow_month: np.ndarray  # [N, M]: probability a buyer acquired that month follows
    rate_factor: np.ndarray  # [N, M]: the month's repeat-purchase rate ÷ the brand's mean rate
    repeat: RepeatTruth
    traffic_skill: np.ndarray  # per brand mean
    refund_base: np.ndarray  # per brand: category refund rate


def plan_demand(
    params: SimulatorParams, brands: Brands, plan: LadderPlan, catalog: Catalog
) -> Demand:
    cp, rp = params.channels, params.repeat
    sk = np.nan_to_num(plan.skills, nan=0.0)
    active = plan.active
    refund_base = np.array([params.categories[c].refund_rate for c in brands.categories])[
        brands.category
    ]
    loss = params.trust.cancel_rate + refund_base * (0.5 + 2.5 * (1.0 - brands.trust)) * 0.9
    orders = np.where(active, plan.gmv / brands.aov[:, None] / (1.0 - loss[:, None]), 0.0)
    sigma = cp.self_share_base + cp.self_share_self_weight * sk[..., S_SELF]
    sigma = sigma - cp.self_share_distribution_weight * (sk[..., S_DIST] - 0.5)
    sigma = np.clip(sigma, 0.03, 0.95)
    traffic_mean = row_mean(np.where(active, plan.skills[..., S_TRAFFIC], np.nan), default=0.0)
    advertises = traffic_mean >= cp.no_ads_below
    recommend = np.clip(cp.recommend_base + cp.recommend_weight * sk[..., S_TRAFFIC], 0.0, 1.0)
    # special supply once a special SKU is on sale
    months = plan.stage.shape[1]
    sp_launch = np.full(brands.n, months, dtype=np.int64)
    sp = np.flatnonzero(catalog.sku_special)
    np.minimum.at(sp_launch, catalog.sku_brand[sp], np.maximum(catalog.sku_launch_month[sp], 0))
    has_special = np.arange(months)[None, :] >= sp_launch[:, None]
    special = np.where(has_special & active, cp.special_weight * sk[..., S_SPECIAL] ** 2, 0.0)
    private = effective_private_skill(plan.skills[..., S_PRIVATE], active, rp.carryover)
    private_mean = row_mean(private, default=0.3)
    truth = repeat_truth(params, private_mean, brands.aov)
    month_rate = rp.rate_base + rp.rate_weight * np.where(active, private, private_mean[:, None])
    rate_factor = month_rate / (rp.rate_base + rp.rate_weight * private_mean)[:, None]
    follow_month = np.clip(
        rp.follow_base + rp.follow_weight * np.where(active, private, private_mean[:, None]),
        0.0,
        1.0,
    )
    kernel = cohort_repeat_kernel(rate_factor, truth.r, truth.alpha, truth.a, truth.b)
    acq = acquisitions(np.where(active, orders, 0.0), kernel)
    paid_share = np.clip(cp.paid_base + cp.paid_weight * sk[..., S_TRAFFIC], 0.0, 0.8)
    paid = np.where(advertises[:, None] & active, paid_share * sigma * acq, 0.0)
    return Demand(
        orders=orders,
        self_share=sigma,
        paid_orders=paid,
        recommend=recommend,
        special_share=special,
        acquisitions=acq,
        follow=row_mean(np.where(active, follow_month, np.nan), default=rp.follow_base),
        follow_month=follow_month,
        rate_factor=rate_factor,
        repeat=truth,
        traffic_skill=traffic_mean,
        refund_base=refund_base,
    )


def effective_private_skill(skill: np.ndarray, active: np.ndarray, carryover: float) -> np.ndarray:
    """Geometric carryover of the private-domain skill over a brand's active months:

    s̃[m] = c·s̃[m − 1] + (1 − c)·s[m], s̃ = s in the brand's first month; NaN before it.
    Buyers' habits answer to the last months' private-domain work, not to the month alone.
    """
    out = np.full(skill.shape, np.nan)
    prev = np.full(skill.shape[0], np.nan)
    for m in range(skill.shape[1]):
        cur = np.where(active[:, m], skill[:, m], np.nan)
        prev = np.where(np.isnan(prev), cur, carryover * prev + (1.0 - carryover) * cur)
        out[:, m] = prev
    return out
