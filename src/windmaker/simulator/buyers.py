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

    mean λ = rate_base + rate_weight·s (+ loyal_rate·clip((s − loyal_from)/(1 − loyal_from), 0, 1)
    in the loyalty-heavy market), α = r / mean λ;
    mean p = dropout_base − dropout_weight·s, b = a(1 − mean p)/mean p;
    γ = AOV·(q − 1)/p_gg so that the mean order value is the brand's AOV.
    """
    rp = params.repeat
    n = len(private_skill)
    lam = rp.rate_base + rp.rate_weight * private_skill
    if rp.loyal_rate > 0:
        ramp = np.clip((private_skill - rp.loyal_from) / (1.0 - rp.loyal_from), 0.0, 1.0)
        lam = lam + rp.loyal_rate * ramp
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


def expected_repeats(
    t: np.ndarray,
    r: float | np.ndarray,
    alpha: float | np.ndarray,
    a: float | np.ndarray,
    b: float | np.ndarray,
) -> np.ndarray:
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


def month_edges(factor: np.ndarray, month_days: float = 30.0) -> np.ndarray:
    """Operational days at the month boundaries of each brand: C[b, 0] = 0,
    C[b, m + 1] = C[b, m] + g[b, m]·D, with g the brand's month rate factor and D days a month.

    A buyer whose base purchase rate is λ buys at rate λ·g[b, m] in month m; in operational
    time u = C(t) the purchases are the stationary BG/NBD process (dropout counted per purchase
    does not depend on the clock)."""
    edges = np.zeros((factor.shape[0], factor.shape[1] + 1))
    edges[:, 1:] = np.cumsum(factor * month_days, axis=1)
    return edges


def cohort_repeat_kernel(
    factor: np.ndarray, r: np.ndarray, alpha: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """K[b, m′, m]: expected repeats in month m of a buyer of brand b acquired at mid-month m′,
    on the operational clock of ``month_edges`` (30-day months):

    K[m′, m] = E[X(C[m + 1] − u′)] − E[X(max(C[m] − u′, 0))] for m ≥ m′, 0 before, with
    u′ = C[m′] + g[m′]·15 and E[X(t)] the BG/NBD expectation (``expected_repeats``).
    With g ≡ 1 this is the stationary kernel ρ(m − m′).
    """
    months = factor.shape[1]
    edges = month_edges(factor)
    mid = edges[:, :-1] + factor * 15.0  # [n, M] acquisition point of each cohort
    dist = np.maximum(edges[:, None, :] - mid[:, :, None], 0.0)  # [n, M cohort, M + 1 edges]
    ex = expected_repeats(
        dist, r[:, None, None], alpha[:, None, None], a[:, None, None], b[:, None, None]
    )
    kernel = np.diff(ex, axis=2)
    return np.where(np.arange(months)[None, None, :] >= np.arange(months)[None, :, None], kernel, 0)


def acquisitions(orders: np.ndarray, kernel: np.ndarray, floor: float = 0.15) -> np.ndarray:
    """New buyers per brand-month so that new + expected repeat orders meet ``orders`` [N, M]:

    A[m] = max(T[m] − Σ_{m′<m} A[m′]·K[m′, m], floor·T[m]) / (1 + K[m, m]).
    """
    acq = np.zeros(orders.shape)
    months = orders.shape[1]
    for m in range(months):
        carried = np.einsum("bk,bk->b", acq[:, :m], kernel[:, :m, m]) if m else 0.0
        acq[:, m] = np.maximum(orders[:, m] - carried, floor * orders[:, m]) / (
            1.0 + kernel[:, m, m]
        )
    return acq


@dataclass(frozen=True)
class RepeatClock:
    """Calendar ↔ operational time of the brands of a block (seconds).

    Month m of the window spans [start_s[m], start_s[m + 1]) on the calendar and
    [cum[b, m], cum[b, m + 1]) on brand b's operational clock, cum[b, m + 1] − cum[b, m] =
    g[b, m] × (its length): purchases at base rate λ in operational time are purchases at rate
    λ·g[b, m] on the calendar.
    """

    start_s: np.ndarray  # int64 [M + 1]: month starts and the window's end
    factor: np.ndarray  # [B, M] rate factor g, > 0
    cum: np.ndarray  # [B, M + 1]

    @classmethod
    def build(cls, start_s: np.ndarray, factor: np.ndarray) -> RepeatClock:
        cum = np.zeros((factor.shape[0], factor.shape[1] + 1))
        cum[:, 1:] = np.cumsum(factor * np.diff(start_s).astype(float)[None, :], axis=1)
        return cls(start_s=start_s, factor=factor, cum=cum)

    def to_op(self, brand: np.ndarray, t: np.ndarray) -> np.ndarray:
        m = np.clip(np.searchsorted(self.start_s, t, side="right") - 1, 0, len(self.start_s) - 2)
        return self.cum[brand, m] + (t - self.start_s[m]) * self.factor[brand, m]

    def from_op(self, brand: np.ndarray, u: np.ndarray) -> np.ndarray:
        inner = self.cum[brand, 1:-1]  # [n, M − 1]
        m = (u[:, None] >= inner).sum(axis=1)
        return self.start_s[m] + (u - self.cum[brand, m]) / self.factor[brand, m]


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
    clock: RepeatClock | None = None,
    brand: np.ndarray | None = None,
) -> Repeats:
    """Repeat purchase times of buyers first buying at ``first_s`` until ``end_s``.

    With N ~ Poisson(λ·H) events in the horizon H and the dropout after the J-th repeat
    (J ~ Geometric(p)), the kept events are the first k = min(N, J) order statistics of N
    uniforms on (0, H): S_j/(S_k + R)·H with S_j the sum of j unit exponentials and
    R ~ Gamma(N + 1 − k), so the cost is O(k), not O(N). With a ``clock`` (and each buyer's
    ``brand`` row in it) this runs in the brand's operational time, where the month's rate
    factor stretches or shrinks the month, and the times are mapped back to the calendar.
    """
    if clock is not None and brand is not None:
        first = clock.to_op(brand, first_s.astype(float))
        last = clock.cum[brand, -1]
    else:
        first, last = first_s, np.full(len(first_s), end_s)
    horizon = np.maximum(last - first, 0) / SECONDS_PER_DAY
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
    who = has[buyer_local]
    t = first[who] + s / denom * horizon[who] * SECONDS_PER_DAY
    if clock is not None and brand is not None:
        t = clock.from_op(brand[who], t)
    at = np.minimum(t.astype(np.int64), end_s - 1)
    return Repeats(who, at)


def order_values(rng: np.random.Generator, nu: np.ndarray, p_gg: np.ndarray) -> np.ndarray:
    """Order values z ~ Gamma(shape p_gg, rate ν) of orders whose buyers have rate ν, in yuan."""
    return rng.gamma(p_gg) / nu
