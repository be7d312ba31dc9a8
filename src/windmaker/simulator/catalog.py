"""Factories and SKUs: list prices, channel special supply (渠道特供) and hit propensity.

Every SKU has a true hit propensity h ~ Beta(a, b); its sales weight is
``weight_floor + h^hit_power``, so the few SKUs with a high h become hits (truth: h above
``hit_threshold``). New SKUs launch during the window and are tested through influencers:
in its launch month a share ``test_share`` of a brand's influencer orders spreads evenly over the
new SKUs (测款), after which sales follow the weights. Brands that reach KA get special-supply
SKUs: the first launched when they first reach it, the others over the months after.

Source factories (源头工厂) have a true quality q ~ Beta(``factory_quality``) and a size
(lognormal, drawn apart from quality). A factory-upgraded brand makes its goods in its own
factory; another brand sources 70 % of its SKUs from factories of its category, chosen in
proportion to their size, and the rest from no known factory. A SKU's goods carry its factory's
quality gap g = ``factory_quality_mean`` − q (0 without a factory): its refunds, reviews and
complaints answer to it (:func:`windmaker.simulator.trust.fulfil`) and its hit propensity is
h^exp(−``quality_hit``·(q − mean)), so better factories make hits more often.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.simulator.brands import Brands
from windmaker.simulator.config import SECONDS_PER_DAY, SimulatorParams, Window
from windmaker.simulator.ladder import KA

REGIONS = (
    "广东广州",
    "浙江义乌",
    "福建泉州",
    "江苏常熟",
    "山东临沂",
    "河北白沟",
    "广东深圳",
    "浙江杭州",
)


@dataclass(frozen=True)
class Catalog:
    """Factories and SKUs (SKUs sorted by brand; ``brand_first`` indexes a brand's first SKU)."""

    factory_category: np.ndarray
    factory_region: np.ndarray  # int index into REGIONS
    sku_brand: np.ndarray
    sku_factory: np.ndarray  # −1 when unknown
    sku_price: np.ndarray  # yuan, rounded to the cent
    sku_special: np.ndarray  # bool
    sku_launch_s: np.ndarray  # seconds
    sku_launch_month: np.ndarray  # month index, −1 before the window
    sku_hit: np.ndarray  # hit propensity
    brand_first: np.ndarray  # [N + 1] offsets
    factory_quality: np.ndarray  # true quality 0..1
    factory_size: np.ndarray  # relative size (sourcing weight)
    sku_quality_gap: np.ndarray  # float32: factory_quality_mean − its factory's quality, 0 if none

    @property
    def n(self) -> int:
        return len(self.sku_brand)


def make_catalog(
    rng: np.random.Generator,
    brands: Brands,
    window: Window,
    params: SimulatorParams,
    stage: np.ndarray,
    factory_rng: np.random.Generator,
) -> Catalog:
    """Draw factories and every brand's SKUs; ``factory_rng`` draws the factories' quality and
    size (a stream of its own, so the rest of the market does not move with them)."""
    cp = params.catalog
    n = brands.n
    n_fact = max(3, int(n * cp.factories_per_brand))
    f_cat = rng.integers(0, len(brands.categories), n_fact)
    f_cat[: min(n, n_fact)] = brands.category[: min(n, n_fact)]
    f_region = rng.integers(0, len(REGIONS), n_fact)
    size = np.clip(np.exp(0.5 * brands.potential), 0.3, 4.0)
    n_old = np.clip(
        (rng.integers(cp.skus_per_brand[0], cp.skus_per_brand[1] + 1, n) * size / 2), 2, 80
    )
    n_old = n_old.astype(np.int64)
    n_new = rng.poisson(cp.new_skus_per_month * window.months, n)
    ever_ka = (stage >= KA).any(axis=1)
    first_ka = np.where(ever_ka, np.argmax(stage >= KA, axis=1), -1)
    n_special = np.where(ever_ka, rng.integers(cp.special_skus[0], cp.special_skus[1] + 1, n), 0)
    counts = n_old + n_new + n_special
    brand = np.repeat(np.arange(n), counts)
    first = np.concatenate([[0], np.cumsum(counts)])
    pos = np.arange(len(brand)) - first[brand]
    kind = np.where(pos < n_old[brand], 0, np.where(pos < (n_old + n_new)[brand], 1, 2))
    total = len(brand)
    month_draw = rng.integers(0, window.months, total)
    # a brand's first special SKU launches the month it first reaches KA (before the window when
    # it is KA from the start); its later ones over the months after, one draw each
    ka_month = np.maximum(first_ka[brand], 0)
    first_special = (kind == 2) & (pos == (n_old + n_new)[brand])
    later = ka_month + month_draw % np.maximum(window.months - ka_month, 1)
    launch_month = np.where(
        kind == 0,
        -1,
        np.where(kind == 1, month_draw, np.where(first_special, ka_month, later)),
    )
    launch_month = np.where(first_special & (first_ka[brand] == 0), -1, launch_month)
    launch_month = np.maximum(launch_month, np.where(kind == 0, -1, brands.join_month[brand]))
    start = window.start_seconds
    day = np.where(
        launch_month < 0,
        np.maximum(
            -rng.integers(1, 720, total), (brands.joined_s[brand] - start) // SECONDS_PER_DAY
        ),
        # listed the evening before the month it sells from
        window.month_first_day[np.maximum(launch_month, 0)] - 1,
    )
    launch_s = start + day * SECONDS_PER_DAY + rng.integers(18 * 3600, 23 * 3600, total)
    launch_s = np.maximum(launch_s, brands.joined_s[brand])
    raw = brands.aov[brand] / 1.2 * np.exp(rng.normal(0.0, cp.price_sigma, total))
    price = np.round(np.maximum(np.where(kind == 2, raw * 1.3, raw), 9.9), 1) - 0.1
    hit = rng.beta(*cp.hit_beta, total)
    quality = factory_rng.beta(*cp.factory_quality, n_fact)
    f_size = np.exp(cp.factory_size_sigma * factory_rng.standard_normal(n_fact))
    # factory: a factory-upgraded brand makes its own goods; others source within the category
    own = brand % n_fact
    same_cat = _source_within_category(factory_rng, f_cat, f_size, brands.category[brand])
    factory = np.where(
        brands.factory_upgraded[brand], own, np.where(rng.random(total) < 0.7, same_cat, -1)
    )
    gap = np.where(factory >= 0, cp.factory_quality_mean - quality[np.maximum(factory, 0)], 0.0)
    hit = hit ** np.exp(cp.quality_hit * gap)
    return Catalog(
        factory_category=f_cat,
        factory_region=f_region,
        sku_brand=brand,
        sku_factory=factory,
        sku_price=np.round(price, 2),
        sku_special=kind == 2,
        sku_launch_s=launch_s.astype(np.int64),
        sku_launch_month=launch_month,
        sku_hit=hit,
        brand_first=first,
        factory_quality=quality,
        factory_size=f_size,
        sku_quality_gap=gap.astype(np.float32),
    )


def _source_within_category(
    rng: np.random.Generator, f_cat: np.ndarray, f_size: np.ndarray, sku_cat: np.ndarray
) -> np.ndarray:
    """A factory of each SKU's category, drawn in proportion to size (any factory when the
    category has none)."""
    out = rng.integers(0, len(f_cat), len(sku_cat))
    u = rng.random(len(sku_cat))
    for c in np.unique(sku_cat):
        pool = np.flatnonzero(f_cat == c)
        if not len(pool):
            continue
        cdf = np.cumsum(f_size[pool])
        idx = np.flatnonzero(sku_cat == c)
        pick = np.searchsorted(cdf, u[idx] * cdf[-1], side="right")
        out[idx] = pool[np.minimum(pick, len(pool) - 1)]
    return out
