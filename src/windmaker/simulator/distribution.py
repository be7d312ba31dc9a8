"""Influencer distribution (达人分销): brand–influencer cooperations and their sessions.

The true fit of brand b and influencer i is

    fit = σ(1.6·category_match + 1.2·price_fit + 3·(conversion_i − 0.33) + 0.5·ε_bi − 1)

where category_match is 1 when the influencer serves the brand's category, price_fit is 1 when
the brand's AOV lies in the influencer's audience price band and −|log(AOV/band centre)|
otherwise, and ε_bi ~ N(0, 1) is the part no feature explains. Each brand-month has
1 + Poisson(coop_base + coop_weight·s_dist·(size/200k)^0.3) cooperations, influencers picked
with probability ∝ fit^(1 + pickiness·s_dist)·(fans/10⁵)^0.2 (skilled brands pick better). A
cooperation's expected orders are ∝ reach·fit² with reach = (fans/10⁵)^0.3 (× dedicated_boost
for a dedicated session, 达人专场), scaled so the brand's influencer orders meet its plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.simulator.accounts import Accounts
from windmaker.simulator.config import SECONDS_PER_DAY, SimulatorParams, Window
from windmaker.simulator.live import Sessions, session_audience
from windmaker.simulator.sampling import GroupedChoice


@dataclass(frozen=True)
class Cooperations:
    """Cooperations of one block and the sessions they run."""

    brand_local: np.ndarray
    month: np.ndarray
    account: np.ndarray  # influencer account index
    fit: np.ndarray
    dedicated: np.ndarray
    share: np.ndarray  # share of the brand-month's influencer orders
    sessions: Sessions
    session_coop: np.ndarray  # cooperation of each session

    @property
    def n(self) -> int:
        return len(self.account)


def row_mean(values: np.ndarray, default: float) -> np.ndarray:
    """Mean of the finite values of each row (``default`` for a row without any)."""
    ok = np.isfinite(values)
    count = ok.sum(axis=1)
    total = np.where(ok, values, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), default)


def reach(fans: np.ndarray) -> np.ndarray:
    """Audience reach of an influencer: (fans / 10⁵)^0.3."""
    return np.power(np.maximum(fans, 1.0) / 1e5, 0.3)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def cooperations(
    rng: np.random.Generator,
    accounts: Accounts,
    window: Window,
    params: SimulatorParams,
    brand_category: np.ndarray,
    brand_aov: np.ndarray,
    dist_skill: np.ndarray,
    influencer_orders: np.ndarray,
    size: np.ndarray,
    first_day: np.ndarray,
) -> Cooperations:
    """Draw the cooperations of a block's brands (arrays over block brands / brand-months)."""
    ip = params.influencers
    nb, months = influencer_orders.shape
    off = accounts.n_brand_accounts
    i_cat = accounts.category[off:]
    i_second = accounts.second_category
    center = np.sqrt(accounts.price_low * accounts.price_high)
    pair_b: list[np.ndarray] = []
    pair_i: list[np.ndarray] = []
    other = rng.random(accounts.n_influencers) < 0.1
    for b in range(nb):
        c = brand_category[b]
        cand = np.flatnonzero((i_cat == c) | (i_second == c) | other)
        pair_b.append(np.full(len(cand), b))
        pair_i.append(cand)
    pb = np.concatenate(pair_b)
    pi = np.concatenate(pair_i)
    match = (i_cat[pi] == brand_category[pb]) | (i_second[pi] == brand_category[pb])
    aov = brand_aov[pb]
    in_band = (aov >= accounts.price_low[pi]) & (aov <= accounts.price_high[pi])
    price_fit = np.where(in_band, 1.0, -np.abs(np.log(aov / center[pi])))
    conv = accounts.quality[off + pi]
    fit = _sigmoid(
        1.6 * match
        + 1.2 * price_fit
        + 3.0 * (conv - 0.33)
        + 0.5 * rng.standard_normal(len(pb))
        - 1.0
    )
    fans = accounts.fans[off + pi].astype(float)
    mean_skill = row_mean(dist_skill, default=0.3)
    pick_w = fit ** (1.0 + ip.pickiness * mean_skill[pb]) * (fans / 1e5) ** 0.2
    chooser = GroupedChoice.build(pb, pick_w, nb)
    # cooperations per brand-month
    s_d = np.nan_to_num(dist_skill, nan=0.0)
    lam = ip.coop_base + ip.coop_weight * s_d * np.power(np.maximum(size, 1.0) / 2e5, 0.3)
    n_coop = np.where(influencer_orders > 0, 1 + rng.poisson(lam), 0)
    bm = np.repeat(np.arange(nb * months), n_coop.ravel())
    slot_b, slot_m = bm // months, bm % months
    pair = chooser.pick(slot_b, rng.random(len(bm)))
    # one cooperation per (brand, month, influencer)
    key = (slot_b * months + slot_m) * (len(pb) + 1) + pair
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)
    cb, cm, cpair = slot_b[first], slot_m[first], pair[first]
    n = len(cb)
    dedicated = rng.random(n) < ip.dedicated_base + ip.dedicated_weight * s_d[cb, cm]
    e = reach(fans[cpair]) * fit[cpair] ** 2 * np.where(dedicated, ip.dedicated_boost, 1.0)
    tot = np.bincount(cb * months + cm, weights=e, minlength=nb * months)
    share = e / tot[cb * months + cm]
    account = off + pi[cpair]
    # sessions: 1–3 per cooperation on days of the month (from the brand's first day)
    k = rng.integers(ip.sessions_per_cooperation[0], ip.sessions_per_cooperation[1] + 1, n)
    sc = np.repeat(np.arange(n), k)
    first_sess = np.concatenate([[0], np.cumsum(k)[:-1]])
    is_ded = dedicated[sc] & (np.arange(len(sc)) == first_sess[sc])
    m_first = window.month_first_day[cm[sc]]
    m_days = window.month_days[cm[sc]]
    lo = np.maximum(m_first, first_day[cb[sc]])
    day = lo + (rng.random(len(sc)) * (m_first + m_days - lo)).astype(np.int64)
    hours = rng.uniform(2.0, 5.0, len(sc))
    start_h = 12.0 + (23.0 - hours - 12.0) * rng.random(len(sc))
    start_s = window.start_seconds + day * SECONDS_PER_DAY + (start_h * 3600).astype(np.int64)
    duration = (hours * 3600).astype(np.int64)
    uv, watch = session_audience(
        rng, accounts.fans[account[sc]].astype(float), hours, accounts.quality[account[sc]]
    )
    sessions = Sessions(
        account=account[sc],
        brand_local=cb[sc],
        day=day,
        start_s=start_s,
        duration_s=duration,
        viewers=uv,
        watch_seconds=watch,
        dedicated=is_ded,
        weight=duration * np.where(is_ded, ip.dedicated_boost, 1.0),
    )
    return Cooperations(cb, cm, account, fit[cpair], dedicated, share, sessions, sc)
