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

Order brushing: a ring of 3–8 buyer accounts places 3–5 orders each on one shop within
``episode_minutes`` (so orders ÷ distinct buyers ≥ 3 inside one hour), at night, several times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from windmaker.contract import COMPLAINTS, ORDER_STATUSES
from windmaker.simulator.config import SECONDS_PER_DAY, SimulatorParams

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
) -> Fulfilment:
    """Outcome of every order (formulas in the module docstring)."""
    tp = params.trust
    n = len(paid_at)
    tau = np.minimum(shop_trust, account_trust)
    cancelled = (rng.random(n) < tp.cancel_rate) & ~brushing
    promised = paid_at + tp.ship_hours_promised * 3600
    late = (rng.random(n) < tp.late_base + tp.late_weight * (1.0 - shop_trust) ** 2) & ~brushing
    on_time_delay = np.minimum(
        np.exp(np.log(20 * 3600) + 0.5 * rng.standard_normal(n)), tp.ship_hours_promised * 3600 - 60
    )
    late_delay = tp.ship_hours_promised * 3600 + rng.uniform(1, 96, n) * 3600
    shipped = paid_at + np.where(late, late_delay, on_time_delay).astype(np.int64)
    shipped = np.where(brushing, paid_at + rng.integers(3600, 20 * 3600, n), shipped)
    shipped = np.where(cancelled | (shipped >= end_s), -1, shipped)
    p_refund = refund_base * (0.5 + 2.5 * (1.0 - tau)) + 0.05 * late
    refunded = (rng.random(n) < p_refund) & ~cancelled & ~brushing
    base_t = np.where(shipped >= 0, shipped, paid_at)
    refund_at = base_t + rng.integers(3600, 10 * SECONDS_PER_DAY, n)
    refunded &= refund_at < end_s
    partial = refunded & (rng.random(n) < tp.partial_refund_share)
    refund_cents = np.where(
        refunded,
        np.where(partial, (amount_cents * rng.uniform(0.1, 0.6, n)).astype(np.int64), amount_cents),
        0,
    )
    cancel_at = paid_at + rng.integers(300, 6 * 3600, n)
    refunded_at = np.where(
        refunded, refund_at, np.where(cancelled, np.minimum(cancel_at, end_s - 1), -1)
    )
    refund_cents = np.where(cancelled, amount_cents, refund_cents)
    full_refund = refunded & ~partial
    completed = (shipped >= 0) & (shipped + 7 * SECONDS_PER_DAY < end_s)
    status = np.select(
        [cancelled, full_refund, shipped < 0, completed],
        [STATUS["cancelled"], STATUS["refunded"], STATUS["paid"], STATUS["completed"]],
        STATUS["shipped"],
    )
    # reviews of shipped orders
    rate = np.where(brushing, 0.8, tp.review_rate)
    reviewed = (shipped >= 0) & (rng.random(n) < rate)
    review_at = shipped + rng.integers(SECONDS_PER_DAY, 10 * SECONDS_PER_DAY, n)
    reviewed &= review_at < end_s
    idx = np.flatnonzero(reviewed)
    q = tau[idx] + 0.12 * rng.standard_normal(len(idx)) - 0.3 * late[idx] - 0.35 * refunded[idx]
    score = np.select([q > 0.75, q > 0.55, q > 0.4, q > 0.25], [5, 4, 3, 2], 1)
    score = np.where(brushing[idx], 5, score)
    u = rng.random(len(idx))
    complaint = np.select(
        [
            score > 2,
            late[idx],
            is_influencer[idx] & (u < 1.0 - account_trust[idx]),
            u < 0.5 * (1.0 - shop_trust[idx]) ** 2,
            refunded[idx],
        ],
        [
            COMPLAINT["none"],
            COMPLAINT["shipping"],
            COMPLAINT["misleading"],
            COMPLAINT["fake"],
            COMPLAINT["quality"],
        ],
        COMPLAINT["service"],
    )
    return Fulfilment(
        status=status.astype(np.int64),
        refund_cents=refund_cents.astype(np.int64),
        refunded_at=refunded_at.astype(np.int64),
        promised_ship_by=promised.astype(np.int64),
        shipped_at=shipped.astype(np.int64),
        review_order=idx,
        review_at=review_at[idx],
        review_score=score.astype(np.int64),
        review_complaint=complaint.astype(np.int64),
    )


@dataclass(frozen=True)
class BrushingOrders:
    """Orders of planted brushing rings of one block."""

    ring: np.ndarray  # ring number (global)
    brand_local: np.ndarray
    buyer_local: np.ndarray  # ring buyer number within the block's ring buyers
    paid_at: np.ndarray
    n_buyers: int


def brushing_orders(
    rng: np.random.Generator,
    params: SimulatorParams,
    ring_brand_local: np.ndarray,
    ring_ids: np.ndarray,
    first_s: np.ndarray,
    end_s: int,
) -> BrushingOrders:
    """Orders of the rings of a block: each ring (one shop) has 3–8 buyers; in each of 3–8
    episodes at night every ring buyer orders 3–5 times within ``episode_minutes``."""
    tp = params.trust
    rings, brands, buyers, times = [], [], [], []
    next_buyer = 0
    for r, b in zip(ring_ids.tolist(), ring_brand_local.tolist(), strict=True):
        size = int(rng.integers(tp.ring_size[0], tp.ring_size[1] + 1))
        ring_buyers = next_buyer + np.arange(size)
        next_buyer += size
        lo = int(first_s[b]) + SECONDS_PER_DAY
        days = max((end_s - lo) // SECONDS_PER_DAY - 1, 1)
        for _ in range(int(rng.integers(tp.episodes[0], tp.episodes[1] + 1))):
            start = lo + int(rng.integers(0, days)) * SECONDS_PER_DAY
            start = start - start % SECONDS_PER_DAY + int(rng.integers(1 * 3600, 4 * 3600))
            per = rng.integers(tp.orders_per_buyer[0], tp.orders_per_buyer[1] + 1, size)
            who = np.repeat(ring_buyers, per)
            at = start + rng.integers(0, tp.episode_minutes * 60, len(who))
            rings.append(np.full(len(who), r))
            brands.append(np.full(len(who), b))
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
