"""A small planted market for the trust and brushing tests: every brushing order is known.

Normal trade: each brand sells through its main account and a few influencers in live sessions
(bursts of many distinct buyers), with a core of loyal repeat buyers and buyers who put two
items in separate orders. Planted rings, two kinds, whose fake buyers buy the cheapest items:

* ``burst``: 3–5 fake buyers together place several orders each at one shop within 40 minutes,
  in 3–5 episodes (what the concentration rule is for);
* ``spread``: a larger ring meets a daily quota at one or two shops on many days: the organiser
  sets 2–3 task hours per shop and day and each fake buyer places one order at most of them
  (never three in one hour, so invisible to the one-hour rule; its buyers share hours with each
  other far more often than the shop's traffic explains).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

START = datetime(2026, 8, 1)
DAYS = 92
HOUR = 3600


@dataclass(frozen=True)
class Market:
    brands: pd.DataFrame
    accounts: pd.DataFrame
    orders: pd.DataFrame
    reviews: pd.DataFrame
    rings: pd.DataFrame


def planted_market(
    seed: int = 7,
    n_brands: int = 40,
    n_categories: int = 4,
    burst_rings: int = 6,
    spread_rings: int = 6,
) -> Market:
    """A deterministic market of ``n_brands`` brands over 92 days with planted brushing rings."""
    rng = np.random.default_rng(seed)
    t0 = int(pd.Timestamp(START).timestamp())
    brand_ids = [f"B{i:03d}" for i in range(n_brands)]
    categories = [f"cat{i % n_categories}" for i in range(n_brands)]
    brands = pd.DataFrame({"brand_id": brand_ids, "category": categories})
    influencers = [f"I{i:03d}" for i in range(20)]
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{b}" for b in brand_ids] + influencers,
            "kind": ["brand_main"] * n_brands + ["influencer"] * len(influencers),
            "brand_id": brand_ids + [None] * len(influencers),
            "category": categories + [f"cat{i % n_categories}" for i in range(len(influencers))],
        }
    )
    rows: list[tuple[str, str, int, str]] = []
    n_buyers = 20000
    for bi, brand in enumerate(brand_ids):
        loyal = rng.choice(n_buyers, size=25, replace=False)
        sessions = int(rng.integers(25, 45))
        for _ in range(sessions):
            day = int(rng.integers(0, DAYS))
            start = t0 + day * 86400 + int(rng.integers(10, 22)) * HOUR
            seller = f"A{brand}" if rng.random() < 0.6 else str(rng.choice(influencers))
            n = int(rng.integers(5, 30))
            times = start + np.sort(rng.integers(0, 2 * HOUR, size=n))
            is_loyal = rng.random(n) < 0.15
            buyers = np.where(is_loyal, rng.choice(loyal, size=n), rng.integers(0, n_buyers, n))
            for tt, bb in zip(times.tolist(), buyers.tolist(), strict=True):
                rows.append((brand, f"U{bb}", tt, seller))
                if rng.random() < 0.08:  # a second item paid as its own order
                    rows.append((brand, f"U{bb}", tt + int(rng.integers(0, 120)), seller))
        del bi
    normal = pd.DataFrame(rows, columns=["brand_id", "buyer_id", "t", "account_id"])
    normal["ring_id"] = -1
    ring_rows: list[tuple[str, str, int, str, int]] = []
    ring_brands = rng.choice(n_brands, size=burst_rings + spread_rings + 2, replace=False)
    fake = 0
    for r in range(burst_rings):
        brand = brand_ids[ring_brands[r]]
        members = [f"F{fake + i}" for i in range(int(rng.integers(3, 6)))]
        fake += len(members)
        for _ in range(int(rng.integers(3, 6))):
            day = int(rng.integers(0, DAYS - 1))
            start = t0 + day * 86400 + int(rng.integers(0, 23)) * HOUR
            for member in members:
                m = int(rng.integers(3, 6))
                for tt in (start + np.sort(rng.integers(0, 40 * 60, size=m))).tolist():
                    ring_rows.append((brand, member, tt, f"A{brand}", r))
    for r in range(burst_rings, burst_rings + spread_rings):
        shops = [brand_ids[ring_brands[r]]]
        if rng.random() < 0.5:
            shops.append(brand_ids[ring_brands[-1 - (r % 2)]])
        k = int(rng.integers(5, 12))
        first = int(rng.integers(0, DAYS - 30))
        length = int(rng.integers(15, 30))
        # the ring's organiser sets 2–3 task hours per shop and day; each member shows up at
        # most of them, one order each
        tasks = {
            (shop, day): rng.choice(
                np.arange(8, 23, 2), size=int(rng.integers(2, 4)), replace=False
            )
            for shop in shops
            for day in range(first, first + length, 3)
        }
        for _ in range(k):
            for (shop, day), hours in tasks.items():
                for h in hours.tolist():
                    if rng.random() < 0.8:
                        tt = t0 + day * 86400 + h * HOUR + int(rng.integers(0, 1800))
                        ring_rows.append((shop, f"F{fake}", tt, f"A{shop}", r))
            fake += 1
    ring = pd.DataFrame(ring_rows, columns=["brand_id", "buyer_id", "t", "account_id", "ring_id"])
    orders = pd.concat([normal, ring], ignore_index=True)
    orders = orders.sort_values(["t", "brand_id", "buyer_id"], kind="stable").reset_index(drop=True)
    n = len(orders)
    orders["order_id"] = [f"O{i:06d}" for i in range(n)]
    orders["paid_at"] = pd.to_datetime(orders["t"], unit="s").astype("datetime64[us]")
    # Trust signals: brand-level quality differs, so scores spread.
    quality = dict(zip(brand_ids, rng.uniform(0.0, 1.0, n_brands), strict=True))
    q = orders["brand_id"].map(quality).to_numpy()
    refunded = rng.random(n) < 0.02 + 0.15 * q
    orders["status"] = np.where(refunded, "refunded", "completed")
    orders["amount"] = np.where(
        orders["ring_id"] >= 0,
        np.round(rng.uniform(5, 20, n), 2),
        np.round(rng.uniform(20, 300, n), 2),
    )
    orders["refund_amount"] = np.where(refunded, orders["amount"], 0.0)
    orders["promised_ship_by"] = orders["paid_at"] + pd.Timedelta(hours=48)
    late = rng.random(n) < 0.03 + 0.2 * q
    delay = np.where(late, 60, 20) * HOUR
    orders["shipped_at"] = orders["paid_at"] + pd.to_timedelta(delay, unit="s")
    reviewed = rng.random(n) < 0.3
    rv = orders[reviewed]
    rq = rv["brand_id"].map(quality).to_numpy()
    complaint = np.where(
        rng.random(len(rv)) < 0.02 + 0.1 * rq,
        rng.choice(["quality", "misleading", "shipping", "service"], len(rv)),
        "none",
    )
    score = np.clip(np.round(5 - 2.5 * rq + rng.normal(0, 0.7, len(rv))), 1, 5).astype(int)
    reviews = pd.DataFrame(
        {
            "review_id": [f"R{i:06d}" for i in range(len(rv))],
            "order_id": rv["order_id"].to_numpy(),
            "created_at": (rv["paid_at"] + pd.Timedelta(days=5)).to_numpy(),
            "score": score,
            "complaint": complaint,
        }
    )
    rings = orders.loc[orders["ring_id"] >= 0, ["ring_id", "brand_id", "buyer_id", "order_id"]]
    orders = orders.drop(columns=["t", "ring_id"])
    return Market(brands, accounts, orders, reviews, rings.reset_index(drop=True))
