"""Selling accounts: each brand's main account and matrix accounts (矩阵号), and influencers (达人).

Matrix accounts differ in true quality (orders per live hour scale with it): a horse race
(赛马) with a known winner, planted ``best_margin`` above the runner-up. Influencers have
fans, one or two categories, an audience price band, a true conversion quality and trust.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.simulator.brands import Brands
from windmaker.simulator.config import SECONDS_PER_DAY, SimulatorParams, Window


@dataclass(frozen=True)
class Accounts:
    """All accounts; brand accounts first (grouped by brand, main first), then influencers.
    Account id ``A0000001`` is index 0."""

    brand: np.ndarray  # owning brand, −1 for influencers
    kind: np.ndarray  # 0 brand_main, 1 brand_matrix, 2 influencer
    category: np.ndarray  # main category index
    fans: np.ndarray
    created_s: np.ndarray
    quality: np.ndarray  # true quality (brand accounts) / conversion (influencers)
    trust: np.ndarray  # true trust
    is_best: np.ndarray  # best matrix account of its brand
    brand_first: np.ndarray  # [N + 1] offsets of each brand's accounts
    n_brand_accounts: int
    # influencers (arrays over influencers, aligned with accounts[n_brand_accounts:])
    second_category: np.ndarray  # −1 when none
    price_low: np.ndarray
    price_high: np.ndarray
    commission: np.ndarray
    names: list[str]

    @property
    def n(self) -> int:
        return len(self.kind)

    @property
    def n_influencers(self) -> int:
        return self.n - self.n_brand_accounts


def make_accounts(
    rng: np.random.Generator,
    brands: Brands,
    window: Window,
    params: SimulatorParams,
    self_skill: np.ndarray,
    mean_gmv: np.ndarray,
    categories: list[str],
) -> Accounts:
    """Draw brand accounts (from the brand's mean self-operation skill and size) and influencers."""
    lp, ip = params.live, params.influencers
    n = brands.n
    n_matrix = np.minimum(
        rng.poisson(lp.matrix_base_count + lp.matrix_weight_count * self_skill), lp.matrix_max
    )
    counts = 1 + n_matrix
    first = np.concatenate([[0], np.cumsum(counts)])
    nb = int(first[-1])
    brand = np.repeat(np.arange(n), counts)
    pos = np.arange(nb) - first[brand]
    kind = np.where(pos == 0, 0, 1)
    quality = np.where(kind == 0, 0.35 + 0.5 * self_skill[brand], rng.uniform(0.15, 0.75, nb))
    # the horse race: the best matrix account is clearly ahead of the runner-up
    is_best = np.zeros(nb, dtype=bool)
    for b in np.flatnonzero(n_matrix >= 2):
        idx = np.arange(first[b] + 1, first[b + 1])
        best = idx[np.argmax(quality[idx])]
        quality[best] = quality[idx].max() + lp.best_margin
        is_best[best] = True
    aov = brands.aov[brand]
    main_fans = mean_gmv[brand] / aov * rng.uniform(2.0, 8.0, nb)
    fans = np.where(kind == 0, main_fans, main_fans * rng.uniform(0.03, 0.3, nb)).astype(np.int64)
    window_days = window.days
    offset = rng.integers(0, 360, nb) * SECONDS_PER_DAY
    created = np.where(kind == 0, brands.joined_s[brand], brands.joined_s[brand] + offset)
    created = np.minimum(created, window.start_seconds + max(window_days - 20, 0) * SECONDS_PER_DAY)
    created = np.maximum(created, brands.joined_s[brand])
    # influencers
    ni = max(ip.minimum, int(ip.per_brand * n))
    cw = np.array([params.categories[c].weight for c in categories])
    cat = rng.choice(len(categories), ni, p=cw / cw.sum())
    second = np.where(
        rng.random(ni) < ip.second_category_share, rng.integers(0, len(categories), ni), -1
    )
    second = np.where(second == cat, -1, second)
    i_fans = (ip.fans_median * np.exp(ip.fans_sigma * rng.standard_normal(ni))).astype(
        np.int64
    ) + 100
    cat_aov = np.array([params.categories[c].aov for c in categories])[cat]
    center = cat_aov * np.exp(rng.normal(0.0, 0.4, ni))
    low_trust = rng.random(ni) < ip.low_trust_share
    i_trust = np.where(low_trust, rng.beta(*ip.low_trust, ni), rng.beta(*ip.trust, ni))
    i_conv = rng.beta(*ip.conversion, ni)
    i_comm = np.array([params.categories[c].commission for c in categories])[cat] * rng.uniform(
        0.8, 1.2, ni
    )
    i_created = window.start_seconds - rng.integers(30, 1500, ni) * SECONDS_PER_DAY
    names = [
        f"{brands.names[b]}官方旗舰店" if k == 0 else f"{brands.names[b]}矩阵{p}号"
        for b, k, p in zip(brand.tolist(), kind.tolist(), pos.tolist(), strict=True)
    ]
    names += [f"达人{i + 1:05d}" for i in range(ni)]
    return Accounts(
        brand=np.concatenate([brand, np.full(ni, -1)]),
        kind=np.concatenate([kind, np.full(ni, 2)]),
        category=np.concatenate([brands.category[brand], cat]),
        fans=np.concatenate([fans, i_fans]),
        created_s=np.concatenate([created, i_created]).astype(np.int64),
        quality=np.concatenate([quality, i_conv]),
        trust=np.concatenate([brands.trust[brand], i_trust]),
        is_best=np.concatenate([is_best, np.zeros(ni, dtype=bool)]),
        brand_first=first,
        n_brand_accounts=nb,
        second_category=second,
        price_low=np.round(center * 0.55, 2),
        price_high=np.round(center * 1.7, 2),
        commission=i_comm,
        names=names,
    )
