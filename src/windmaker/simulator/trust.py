"""Trust (信任电商): refunds, late shipments, reviews and complaints from true trust levels,
and planted order-brushing rings (刷单).

For an order sold by an account of trust τ_a for a shop of trust τ_s (τ_a = τ_s for the brand's
own accounts), with τ = min(τ_s, τ_a):

- cancelled with probability ``cancel_rate`` (refunded in full within hours, never shipped);
- shipped late (after ``promised_ship_by`` = paid_at + ship_hours_promised) with probability
  late_base + late_weight·(1 − τ_s)², on time after lognormal(log 20 h, 0.5) otherwise;
- refunded with probability refund_rate(category)·(0.5 + 2.5·(1 − τ)) + 0.05·late, in full
  (status ``refunded``) or, for ``partial_refund_share`` of them, 10–60 % of the amount;
- reviewed with probability ``review_rate``: q = τ + N(0, 0.12) − 0.3·late − 0.35·refunded,
  score 5/4/3/2/1 above 0.75/0.55/0.4/0.25; a score of 2 or less carries a complaint:
  shipping when late, misleading when the influencer's trust is low, fake with probability
  0.5·(1 − τ_s)², quality when refunded, service otherwise.
- goods from a source factory whose quality falls short of the mean by g (the SKU's
  ``sku_quality_gap``; negative for a better factory): refund probability × exp(quality_refund·g)
  ÷ the mean of that factor over the brand's orders of the month (:func:`goods_refund_factor`:
  the factory decides which of a brand's goods are refunded, the brand's service how many, so
  its planned net GMV holds), review quality − quality_review·g, and a low score carries a
  quality complaint first with probability 4·quality_complaint·max(g, 0).

Order brushing: rings of 3–8 buyer accounts acting together (:func:`brushing_orders`): bursts
at one shop (3–5 orders each within ``episode_minutes``, so orders ÷ distinct buyers ≥ 3 inside
one hour), the same buyers at several shops, or once a day each for weeks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.contract import COMPLAINTS, ORDER_STATUSES
from windmaker.simulator.config import RING_KINDS, SECONDS_PER_DAY, SimulatorParams

STATUS = {s: i for i, s in enumerate(ORDER_STATUSES)}
COMPLAINT = {c: i for i, c in enumerate(COMPLAINTS)}


@dataclass(frozen=True)
class Fulfilment:
    """Status, refund and shipping of each order, and the reviews of some."""

    status: np.ndarray  # index into ORDER_STATUSES
    refund_cents: np.ndarray
    refunded_at: np.ndarray  # seconds, −1 = none
    promised_ship_by: np.ndarray
    shipped_at: np.ndarray  # −1 = not shipped
    review_order: np.ndarray  # index of the reviewed order
    review_at: np.ndarray
    review_score: np.ndarray
    review_complaint: np.ndarray  # index into COMPLAINTS


def fulfil(
    rng: np.random.Generator,
    params: SimulatorParams,
    paid_at: np.ndarray,
    amount_cents: np.ndarray,
    shop_trust: np.ndarray,
    account_trust: np.ndarray,
    refund_base: np.ndarray,
    is_influencer: np.ndarray,
    brushing: np.ndarray,
    end_s: int,
    quality_gap: np.ndarray | None = None,
    refund_factor: np.ndarray | None = None,
) -> Fulfilment:
    """Outcome of every order (formulas in the module docstring).

    Draws for rare events (late, refunded, cancelled, reviewed) are only made for the orders
    they concern, so the cost per order stays a handful of vector operations.
    """
    tp = params.trust
    n = len(paid_at)
    promised_s = tp.ship_hours_promised * 3600
    tau = np.minimum(shop_trust, account_trust).astype(np.float32)
    u = rng.random((4, n), dtype=np.float32)  # cancel, late, refund, review
    ok = ~brushing
    cancelled = (u[0] < tp.cancel_rate) & ok
    distrust = (1.0 - shop_trust).astype(np.float32)
    late = (u[1] < tp.late_base + tp.late_weight * distrust * distrust) & ok
    delay = np.exp(
        np.float32(np.log(20 * 3600)) + np.float32(0.5) * rng.standard_normal(n, dtype=np.float32)
    )
    shipped = paid_at + np.minimum(delay, promised_s - 60).astype(np.int64)
    i_late = np.flatnonzero(late)
    shipped[i_late] = (
        paid_at[i_late] + promised_s + (rng.uniform(1, 96, len(i_late)) * 3600).astype(np.int64)
    )
    i_brush = np.flatnonzero(brushing)
    shipped[i_brush] = paid_at[i_brush] + rng.integers(3600, 20 * 3600, len(i_brush))
    shipped[cancelled | (shipped >= end_s)] = -1
    p_refund = refund_base.astype(np.float32) * (0.5 + 2.5 * (1.0 - tau)) + np.float32(0.05) * late
    gap = np.zeros(n, dtype=np.float32) if quality_gap is None else quality_gap
    if refund_factor is not None:
        p_refund = p_refund * refund_factor.astype(np.float32)
    refunded = (u[2] < p_refund) & ok & ~cancelled
    i_ref = np.flatnonzero(refunded)
    base_t = np.where(shipped[i_ref] >= 0, shipped[i_ref], paid_at[i_ref])
    refund_at = base_t + rng.integers(3600, 10 * SECONDS_PER_DAY, len(i_ref))
    keep = refund_at < end_s
    i_ref, refund_at = i_ref[keep], refund_at[keep]
    refunded[:] = False
    refunded[i_ref] = True
    partial = rng.random(len(i_ref)) < tp.partial_refund_share
    refund_cents = np.zeros(n, dtype=np.int64)
    refund_cents[i_ref] = np.where(
        partial,
        (amount_cents[i_ref] * rng.uniform(0.1, 0.6, len(i_ref))).astype(np.int64),
        amount_cents[i_ref],
    )
    refunded_at = np.full(n, -1, dtype=np.int64)
    refunded_at[i_ref] = refund_at
    i_can = np.flatnonzero(cancelled)
    refunded_at[i_can] = np.minimum(
        paid_at[i_can] + rng.integers(300, 6 * 3600, len(i_can)), end_s - 1
    )
    refund_cents[i_can] = amount_cents[i_can]
    status = np.full(n, STATUS["shipped"], dtype=np.int8)
    status[(shipped >= 0) & (shipped + 7 * SECONDS_PER_DAY < end_s)] = STATUS["completed"]
    status[shipped < 0] = STATUS["paid"]
    status[i_ref[~partial]] = STATUS["refunded"]
    status[i_can] = STATUS["cancelled"]
    # reviews of shipped orders
    rate = np.where(brushing, np.float32(0.8), np.float32(tp.review_rate))
    idx = np.flatnonzero((shipped >= 0) & (u[3] < rate))
    review_at = shipped[idx] + rng.integers(SECONDS_PER_DAY, 10 * SECONDS_PER_DAY, len(idx))
    keep = review_at < end_s
    idx, review_at = idx[keep], review_at[keep]
    q = tau[idx] + 0.12 * rng.standard_normal(len(idx)) - 0.3 * late[idx] - 0.35 * refunded[idx]
    q = q - params.catalog.quality_review * gap[idx]
    score = np.select([q > 0.75, q > 0.55, q > 0.4, q > 0.25], [5, 4, 3, 2], 1)
    score = np.where(brushing[idx], 5, score)
    uc = rng.random(len(idx))
    complaint = np.select(
        [
            score > 2,
            uc < 4.0 * params.catalog.quality_complaint * np.maximum(gap[idx], 0.0),
            late[idx],
            is_influencer[idx] & (uc < 1.0 - account_trust[idx]),
            uc < 0.5 * (1.0 - shop_trust[idx]) ** 2,
            refunded[idx],
        ],
        [
            COMPLAINT["none"],
            COMPLAINT["quality"],
            COMPLAINT["shipping"],
            COMPLAINT["misleading"],
            COMPLAINT["fake"],
            COMPLAINT["quality"],
        ],
        COMPLAINT["service"],
    )
    return Fulfilment(
        status=status,
        refund_cents=refund_cents,
        refunded_at=refunded_at,
        promised_ship_by=paid_at + promised_s,
        shipped_at=shipped,
        review_order=idx,
        review_at=review_at,
        review_score=score.astype(np.int64),
        review_complaint=complaint.astype(np.int64),
    )


def goods_refund_factor(
    params: SimulatorParams, quality_gap: np.ndarray, group: np.ndarray
) -> np.ndarray:
    """Per order: exp(quality_refund·g) of its goods ÷ its mean over the order's ``group`` (the
    brand × month), so the factories move refunds between a brand's goods, not their number."""
    factor = np.exp(params.catalog.quality_refund * quality_gap.astype(np.float64))
    _, inverse = np.unique(group, return_inverse=True)
    mean = np.bincount(inverse, factor) / np.bincount(inverse)
    return factor / mean[inverse]


@dataclass(frozen=True)
class RingPlan:
    """The planted rings of a market: each ring's first shop (sorted), its kind, and the other
    shops of multi-shop rings (``extra_ring`` → ``extra_brand``, global brand indices)."""

    brands: np.ndarray
    kinds: np.ndarray  # index into RING_KINDS, one per ring
    extra_ring: np.ndarray
    extra_brand: np.ndarray

    def shops(self) -> np.ndarray:
        """Every brand that a ring brushes."""
        return np.union1d(self.brands, self.extra_brand)

    def local(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Rings of a block: their ids, kinds and shops (block-local, first shop first)."""
        ids = np.flatnonzero(np.isin(self.brands, block))
        shops = [
            np.r_[self.brands[r], self.extra_brand[self.extra_ring == r]] - block[0] for r in ids
        ]
        return ids, self.kinds[ids], shops


def plant_rings(
    rng: np.random.Generator,
    params: SimulatorParams,
    small: np.ndarray,
    n_brands: int,
    kinds: tuple[str, ...],
    block_brands: int,
    extra_rng: np.random.Generator,
) -> RingPlan:
    """Shops of the rings: ``brushing_brand_share`` of the brands (at least one in a market of
    10 brands or more), drawn among ``small`` (shops that stay below KA); ring ``i`` of the
    sorted shops gets kind ``kinds[i mod len(kinds)]``. A multi-shop ring takes 1–2 more shops of
    the same block (its buyers are numbered within the block), drawn from ``extra_rng`` so the
    default market's draws do not change."""
    z = np.zeros(0, np.int64)
    if not kinds:
        return RingPlan(z, z, z, z)
    n_rings = round(params.trust.brushing_brand_share * n_brands)
    n_rings = max(n_rings, 1 if n_brands >= 10 else 0)
    brands = (
        np.sort(rng.choice(small, min(n_rings, len(small)), replace=False)) if len(small) else z
    )
    codes = np.array([RING_KINDS.index(k) for k in kinds], dtype=np.int64)
    ring_kinds = codes[np.arange(len(brands)) % len(codes)]
    extra_ring, extra_brand = [], []
    lo_n, hi_n = params.trust.multi_shop_shops
    for r in np.flatnonzero(ring_kinds == RING_KINDS.index("multi_shop")).tolist():
        b = int(brands[r])
        lo = b - b % block_brands
        block = np.arange(lo, min(lo + block_brands, n_brands))
        pool = np.setdiff1d(np.intersect1d(small, block), brands)
        if len(pool) == 0:
            pool = block[block != b]
        k = min(int(extra_rng.integers(lo_n, hi_n + 1)) - 1, len(pool))
        picked = np.sort(extra_rng.choice(pool, k, replace=False))
        extra_ring += [r] * k
        extra_brand += picked.tolist()
    return RingPlan(
        brands, ring_kinds, np.array(extra_ring, np.int64), np.array(extra_brand, np.int64)
    )


@dataclass(frozen=True)
class BrushingOrders:
    """Orders of planted brushing rings of one block."""

    ring: np.ndarray  # ring number (global)
    brand_local: np.ndarray
    buyer_local: np.ndarray  # ring buyer number within the block's ring buyers
    paid_at: np.ndarray
    n_buyers: int


def _night(rng: np.random.Generator, lo: int, days: int) -> int:
    """Start of an episode: a random day from ``lo``, between 1 and 4 a.m."""
    start = lo + int(rng.integers(0, days)) * SECONDS_PER_DAY
    return start - start % SECONDS_PER_DAY + int(rng.integers(1 * 3600, 4 * 3600))


def brushing_orders(
    rng: np.random.Generator,
    params: SimulatorParams,
    ring_brand_local: np.ndarray,
    ring_ids: np.ndarray,
    first_s: np.ndarray,
    end_s: int,
    kinds: np.ndarray | None = None,
    ring_shops: list[np.ndarray] | None = None,
    kind_rng: np.random.Generator | None = None,
) -> BrushingOrders:
    """Orders of the rings of a block. ``first_s`` is when each block brand can first sell
    inside the window; every ring has 3–8 buyers (``ring_size``).

    * ``burst`` (one shop): in each of 3–8 episodes at night every buyer orders 3–5 times
      within ``episode_minutes``;
    * ``multi_shop``: in each of 3–8 night episodes the ring visits its 2–3 shops one after the
      other (20–60 minutes apart), every buyer ordering 1–2 times at each within
      ``episode_minutes``;
    * ``daily``: for a run of ``daily_days`` days, on ``daily_share`` of them, every buyer
      orders once within ``episode_minutes`` of the day's dispatch time (9:00–22:00).

    Burst rings draw from ``rng`` exactly as they always have; the other kinds from
    ``kind_rng``, so the default market (burst rings only) does not change.
    """
    tp = params.trust
    burst = RING_KINDS.index("burst")
    kinds = np.full(len(ring_ids), burst) if kinds is None else kinds
    rings, brands, buyers, times = [], [], [], []
    next_buyer = 0
    for i, (r, b) in enumerate(zip(ring_ids.tolist(), ring_brand_local.tolist(), strict=True)):
        kind = RING_KINDS[int(kinds[i])]
        g = rng if kind == "burst" or kind_rng is None else kind_rng
        shops = [b] if ring_shops is None else ring_shops[i].tolist()
        size = int(g.integers(tp.ring_size[0], tp.ring_size[1] + 1))
        ring_buyers = next_buyer + np.arange(size)
        next_buyer += size
        lo = int(max(first_s[s] for s in shops)) + SECONDS_PER_DAY
        days = max((end_s - lo) // SECONDS_PER_DAY - 1, 1)
        if kind == "daily":
            run = int(g.integers(tp.daily_days[0], tp.daily_days[1] + 1))
            first_day = int(g.integers(0, max(days - run, 1)))
            for d in range(first_day, first_day + run):
                day0 = lo - lo % SECONDS_PER_DAY + d * SECONDS_PER_DAY
                if day0 + SECONDS_PER_DAY > end_s:
                    break
                if g.random() >= tp.daily_share:
                    continue
                dispatch = day0 + int(g.integers(9 * 3600, 22 * 3600))
                at = dispatch + g.integers(0, tp.episode_minutes * 60, size)
                rings.append(np.full(size, r))
                brands.append(np.full(size, b))
                buyers.append(ring_buyers)
                times.append(at)
            continue
        for _ in range(int(g.integers(tp.episodes[0], tp.episodes[1] + 1))):
            start = _night(g, lo, days)
            for j, shop in enumerate(shops):
                if kind == "burst":
                    per = g.integers(tp.orders_per_buyer[0], tp.orders_per_buyer[1] + 1, size)
                else:
                    start += int(g.integers(20 * 60, 60 * 60)) if j else 0
                    per = g.integers(tp.multi_shop_orders[0], tp.multi_shop_orders[1] + 1, size)
                who = np.repeat(ring_buyers, per)
                at = start + g.integers(0, tp.episode_minutes * 60, len(who))
                rings.append(np.full(len(who), r))
                brands.append(np.full(len(who), shop))
                buyers.append(who)
                times.append(at)
    if not rings:
        z = np.zeros(0, np.int64)
        return BrushingOrders(z, z, z, z, 0)
    return BrushingOrders(
        np.concatenate(rings),
        np.concatenate(brands),
        np.concatenate(buyers),
        np.minimum(np.concatenate(times), end_s - 1),
        next_buyer,
    )
