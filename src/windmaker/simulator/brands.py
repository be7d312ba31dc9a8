"""Brands: category, origin, join date, latent potential, shop trust and price level."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.simulator.config import SECONDS_PER_DAY, SimulatorParams, Window

_SYLLABLES = list("云栖花漾初见山川木子米禾星河青柠暖阳小满知味清风朗月南北东西喜鹿")
_SUFFIX = {
    "apparel": "服饰",
    "beauty": "美妆",
    "food": "食品",
    "home": "家居",
    "electronics": "数码",
    "mother_baby": "母婴",
    "sports": "运动",
}


@dataclass(frozen=True)
class Brands:
    """Static attributes of every brand, indexed 0..n-1 (id ``B000001`` is index 0)."""

    category: np.ndarray  # int index into ``categories``
    categories: tuple[str, ...]
    factory_upgraded: np.ndarray  # bool
    joined_s: np.ndarray  # int64 seconds (naive Shanghai clock)
    join_month: np.ndarray  # month index of joining; -1 when before the window
    potential: np.ndarray  # standard normal latent size rank
    trust: np.ndarray  # true shop trust 0..1
    aov: np.ndarray  # average order value, yuan
    names: list[str]

    @property
    def n(self) -> int:
        return len(self.category)

    def category_names(self) -> np.ndarray:
        return np.asarray(self.categories, dtype=object)[self.category]


def brand_ids(index: np.ndarray) -> np.ndarray:
    return np.char.add("B", np.char.zfill((np.asarray(index) + 1).astype(str), 6))


def make_brands(
    rng: np.random.Generator,
    n: int,
    window: Window,
    params: SimulatorParams,
    categories: list[str],
    fixed: dict[str, int] | None = None,
) -> Brands:
    """Draw ``n`` brands: categories by weight, 15 % joining inside the window, trust with a
    low-trust minority, and the brand AOV = category AOV × lognormal(0, 0.2).

    ``fixed`` gives some categories an exact number of brands (small categories); the rest are
    drawn among the other categories by weight, and the fixed ones are shuffled in among them.
    """
    weights = np.array([params.categories[c].weight for c in categories])
    if fixed:
        unknown = set(fixed) - set(categories)
        if unknown:
            raise ValueError(f"category_brands: unknown categories {sorted(unknown)}")
        free = np.array([c not in fixed for c in categories])
        w = np.where(free, weights, 0.0)
        drawn = rng.choice(len(categories), size=n - sum(fixed.values()), p=w / w.sum())
        pinned = np.concatenate([np.full(k, categories.index(c)) for c, k in fixed.items()])
        category = rng.permutation(np.concatenate([drawn, pinned]).astype(np.int64))
    else:
        category = rng.choice(len(categories), size=n, p=weights / weights.sum())
    bp = params.brands
    is_new = rng.random(n) < bp.new_share
    join_month = np.where(is_new, rng.integers(0, window.months, n), -1)
    start = window.start_seconds
    before_days = rng.integers(90, 48 * 30, n)
    first_day = window.month_first_day[np.maximum(join_month, 0)]
    in_month_day = (
        rng.random(n) * np.minimum(window.month_days[np.maximum(join_month, 0)], 20)
    ).astype(np.int64)
    joined_days = np.where(is_new, first_day + in_month_day, -before_days)
    joined_s = start + joined_days * SECONDS_PER_DAY + rng.integers(8 * 3600, 20 * 3600, n)
    tp = params.trust
    low = rng.random(n) < tp.low_trust_share
    trust = np.where(low, rng.beta(*tp.low_trust, n), rng.beta(*tp.shop, n))
    cat_aov = np.array([params.categories[c].aov for c in categories])[category]
    aov = cat_aov * np.exp(rng.normal(0.0, 0.2, n))
    syl = rng.integers(0, len(_SYLLABLES), (n, 2))
    names = [
        f"{_SYLLABLES[a]}{_SYLLABLES[b]}{_SUFFIX.get(categories[c], '')}"
        for (a, b), c in zip(syl.tolist(), category.tolist(), strict=True)
    ]
    return Brands(
        category=category,
        categories=tuple(categories),
        factory_upgraded=rng.random(n) < bp.factory_upgraded_share,
        joined_s=joined_s.astype(np.int64),
        join_month=join_month,
        potential=rng.standard_normal(n),
        trust=trust,
        aov=aov,
        names=names,
    )
