"""Paid traffic (投流): daily ad spend per brand and campaign with a true response curve.

Paid GMV of brand b on day d (the expectation; orders are Poisson around it):

    x_d = α·x_{d−1} + (1 − α)·spend_d                (normalised geometric adstock)
    paid_gmv_d = β · x_d^S / (x_d^S + K^S)           (Hill saturation)

with α, S drawn per brand, K the brand's typical daily spend (so it runs at half saturation
when spending as usual) and β = 2·K·ROAS₀, ROAS₀ = roas_base + roas_weight·s_traffic. Daily
spend = the month's planned spend × a weekly flight level lognormal(0, flight_noise) ×
lognormal(0, spend_noise) × occasional pulses (2–3×), which gives the variation a
response-curve fit needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.simulator.config import SimulatorParams, Window


@dataclass(frozen=True)
class AdBlock:
    """Ad spend rows of one block and the expected paid orders per brand-day."""

    day: np.ndarray
    brand_local: np.ndarray
    campaign: np.ndarray  # campaign number within the brand (1-based)
    spend_cents: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray
    paid_orders: np.ndarray  # expected paid orders [block brands, days]
    # truth per block brand
    alpha: np.ndarray
    k: np.ndarray
    shape: np.ndarray
    beta: np.ndarray
    roas0: np.ndarray


def hill(x: np.ndarray, k: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Hill saturation x^S / (x^S + K^S), 0 at x = 0 and 1/2 at x = K."""
    xs = np.power(np.maximum(x, 0.0), s)
    return np.where(k > 0, xs / (xs + np.power(np.maximum(k, 1e-9), s)), 0.0)


def geometric_adstock(spend: np.ndarray, alpha: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """x_d = α·x_{d−1} + (1 − α)·spend_d along axis 1, starting from ``initial``."""
    out = np.empty_like(spend)
    x = initial.astype(float)
    for d in range(spend.shape[1]):
        x = alpha * x + (1.0 - alpha) * spend[:, d]
        out[:, d] = x
    return out


def ad_block(
    rng: np.random.Generator,
    window: Window,
    params: SimulatorParams,
    paid_orders_month: np.ndarray,
    traffic_skill: np.ndarray,
    aov: np.ndarray,
    active_day: np.ndarray,
) -> AdBlock:
    """Spend and expected paid orders for the brands of a block.

    ``paid_orders_month`` [brands, months] is the planned paid orders (0 = no advertising);
    ``active_day`` [brands, days] masks days before a brand joined.
    """
    ap = params.ads
    cp = params.channels
    nb = len(aov)
    dm = window.day_month
    roas0 = cp.roas_base + cp.roas_weight * traffic_skill
    spend_month = paid_orders_month * aov[:, None] / roas0[:, None] / window.month_days[None, :]
    planned = np.ma.masked_less_equal(spend_month, 0.0)
    k = np.asarray(np.ma.median(planned, axis=1).filled(0.0), dtype=float)
    alpha = rng.uniform(*ap.alpha, nb)
    shape = rng.uniform(*ap.hill_shape, nb)
    beta = 2.0 * k * roas0
    days = window.days
    noise = np.exp(rng.normal(0.0, ap.spend_noise, (nb, days)))
    # campaign flights: a weekly level per brand, so spend varies week to week as well
    flights = np.exp(rng.normal(0.0, ap.flight_noise, (nb, days // 7 + 1)))
    noise = noise * flights[:, np.arange(days) // 7]
    pulse = np.where(
        rng.random((nb, days)) < ap.pulse_probability,
        rng.uniform(*ap.pulse_multiplier, (nb, days)),
        1.0,
    )
    spend = spend_month[:, dm] * noise * pulse * active_day
    spend = np.round(spend, 2)
    x = geometric_adstock(spend, alpha, np.where(active_day[:, 0], spend_month[:, 0], 0.0))
    paid_orders = beta[:, None] * hill(x, k[:, None], shape[:, None]) / aov[:, None] * active_day
    # campaigns: fixed shares per brand, spend split across them
    n_camp = rng.integers(ap.campaigns[0], ap.campaigns[1] + 1, nb)
    shares = rng.dirichlet(np.ones(ap.campaigns[1]), nb) * (
        np.arange(ap.campaigns[1])[None, :] < n_camp[:, None]
    )
    shares /= shares.sum(axis=1, keepdims=True)
    b_idx, d_idx = np.nonzero(spend > 0)
    rows_b = np.repeat(b_idx, n_camp[b_idx])
    rows_d = np.repeat(d_idx, n_camp[b_idx])
    camp = np.arange(len(rows_b)) - np.repeat(
        np.cumsum(n_camp[b_idx]) - n_camp[b_idx], n_camp[b_idx]
    )
    cents = np.round(spend[rows_b, rows_d] * 100 * shares[rows_b, camp]).astype(np.int64)
    keep = cents > 0
    rows_b, rows_d, camp, cents = rows_b[keep], rows_d[keep], camp[keep], cents[keep]
    cpm = rng.uniform(*ap.cpm, len(cents))
    impressions = np.maximum((cents / 100.0 / cpm * 1000.0).astype(np.int64), 1)
    clicks = rng.binomial(impressions, rng.uniform(*ap.ctr, len(cents)))
    return AdBlock(
        day=rows_d,
        brand_local=rows_b,
        campaign=camp + 1,
        spend_cents=cents,
        impressions=impressions,
        clicks=clicks,
        paid_orders=paid_orders,
        alpha=alpha,
        k=k,
        shape=shape,
        beta=beta,
        roas0=roas0,
    )
