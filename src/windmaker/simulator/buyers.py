"""Buyers' repeat purchases (BG/NBD) and spend per order (Gamma-Gamma), per brand.

BG/NBD (Fader, Hardie & Lee 2005), time unit one day: while alive a buyer purchases at rate
λ ~ Gamma(r, α) (a Poisson process); after every repeat purchase the buyer drops out with
probability p ~ Beta(a, b). Spend: an order's value z ~ Gamma(p_gg, ν) with the buyer's
ν ~ Gamma(q, γ) (both rate-parameterised), so E[z] = p_gg·γ/(q − 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import hyp2f1

from windmaker.simulator.config import SECONDS_PER_DAY, SimulatorParams


@dataclass(frozen=True)
class RepeatTruth:
    """True BG/NBD and Gamma-Gamma parameters of each brand (arrays over brands)."""

    r: np.ndarray
    alpha: np.ndarray
    a: np.ndarray
    b: np.ndarray
    p: np.ndarray
    q: np.ndarray
    gamma: np.ndarray


def repeat_truth(
    params: SimulatorParams, private_skill: np.ndarray, aov: np.ndarray
) -> RepeatTruth:
    """Brand parameters from its mean private-domain skill s:

    mean λ = rate_base + rate_weight·s, α = r / mean λ;
    mean p = dropout_base − dropout_weight·s, b = a(1 − mean p)/mean p;
    γ = AOV·(q − 1)/p_gg so that the mean order value is the brand's AOV.
    """
    rp = params.repeat
    n = len(private_skill)
    lam = rp.rate_base + rp.rate_weight * private_skill
    drop = np.clip(rp.dropout_base - rp.dropout_weight * private_skill, 0.02, 0.95)
    return RepeatTruth(
        r=np.full(n, rp.r),
        alpha=rp.r / lam,
        a=np.full(n, rp.a),
        b=rp.a * (1.0 - drop) / drop,
        p=np.full(n, rp.gg_p),
        q=np.full(n, rp.gg_q),
        gamma=aov * (rp.gg_q - 1.0) / rp.gg_p,
    )


def expected_repeats(t: np.ndarray, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """Expected repeat purchases in (0, t] after the first purchase (BG/NBD, a > 1):

    E[X(t)] = (a + b − 1)/(a − 1) · [1 − (α/(α + t))^r · ₂F₁(r, b; a + b − 1; t/(α + t))].
    """
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return (
        (a + b - 1.0)
        / (a - 1.0)
        * (1.0 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1.0, z))
    )


def monthly_repeat_kernel(months: int, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """ρ(k): expected repeats in the k-th month after a month's acquisition, acquisitions taken at
    mid-month: ρ(0) = E[X(15)], ρ(k) = E[X(30k + 15)] − E[X(30k − 15)]."""
    edges = np.concatenate([[0.0], 30.0 * np.arange(months) + 15.0])
    ex = expected_repeats(edges, r, alpha, a, b)
    return np.diff(ex)


def acquisitions(orders: np.ndarray, kernel: np.ndarray, floor: float = 0.15) -> np.ndarray:
    """New buyers per month so that new + expected repeat orders meet ``orders`` per month:

    A[m] = max(T[m] − Σ_{m'<m} A[m']·ρ(m − m'), floor·T[m]) / (1 + ρ(0)).
    """
    months = len(orders)
    acq = np.zeros(months)
    for m in range(months):
        carried = float(np.dot(acq[:m], kernel[m:0:-1])) if m else 0.0
        acq[m] = max(orders[m] - carried, floor * orders[m]) / (1.0 + kernel[0])
    return acq


@dataclass(frozen=True)
class Repeats:
    """Repeat orders: which buyer (index into the buyer arrays) and when (seconds)."""

    buyer: np.ndarray
    at: np.ndarray


def sample_repeats(
    rng: np.random.Generator,
    first_s: np.ndarray,
    end_s: int,
    lam: np.ndarray,
    drop: np.ndarray,
) -> Repeats:
    """Repeat purchase times of buyers first buying at ``first_s`` until ``end_s``.

    With N ~ Poisson(λ·H) events in the horizon H and the dropout after the J-th repeat
    (J ~ Geometric(p)), the kept events are the first k = min(N, J) order statistics of N
    uniforms on (0, H): S_j/(S_k + R)·H with S_j the sum of j unit exponentials and
    R ~ Gamma(N + 1 − k), so the cost is O(k), not O(N).
    """
    horizon = np.maximum(end_s - first_s, 0) / SECONDS_PER_DAY
    n_events = rng.poisson(lam * horizon)
    j = rng.geometric(np.clip(drop, 1e-6, 1.0))
    k = np.minimum(n_events, j)
    has = np.flatnonzero(k > 0)
    k = k[has]
    total = int(k.sum())
    if total == 0:
        return Repeats(np.zeros(0, np.int64), np.zeros(0, np.int64))
    rest = rng.gamma(n_events[has] - k + 1.0)
    buyer_local = np.repeat(np.arange(len(has)), k)
    e = rng.standard_exponential(total)
    cs = np.cumsum(e)
    ends = np.cumsum(k) - 1
    starts = ends - k + 1
    before = np.where(starts > 0, cs[np.maximum(starts - 1, 0)], 0.0)
    s = cs - before[buyer_local]
    denom = (cs[ends] - before + rest)[buyer_local]
    t = first_s[has][buyer_local] + s / denom * horizon[has][buyer_local] * SECONDS_PER_DAY
    at = np.minimum(t.astype(np.int64), end_s - 1)
    return Repeats(has[buyer_local], at)


def order_values(rng: np.random.Generator, nu: np.ndarray, p_gg: np.ndarray) -> np.ndarray:
    """Order values z ~ Gamma(shape p_gg, rate ν) of orders whose buyers have rate ν, in yuan."""
    return rng.gamma(p_gg) / nu
