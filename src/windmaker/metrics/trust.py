"""Trust inputs (信任电商, "不要骗老铁"): refunds, complaints, late shipment, review score.

These are the metrics; the trust *score* that combines them is a model (``models.trust``).
Per brand × period:

- ``refund_rate = refunded_orders / orders``, where ``refunded_orders`` counts the period's
  orders (not cancelled) with ``refund_amount > 0`` (order-based: a partly refunded order is a
  refund the buyer had to ask for);
- ``refund_amount_rate = Σ refund_amount / Σ amount = (gross_gmv − net_gmv) / gross_gmv``: the
  share of the money paid that went back (by amount: a refunded ¥2,000 order weighs a hundred
  times a refunded ¥20 one);
- ``complaints_per_1k = 1000 × complaints / orders``: complaints *received* in the period per
  1,000 orders paid in the period. ``complaints`` counts reviews created in the period, on the
  brand's orders, whose complaint is one of ``metrics.yaml`` ``complaint_kinds`` (quality and
  misleading by default: the claims that cheat the buyer, not shipping or service). The trust
  score (``models.trust``) uses this same definition over its window. Complaints count when
  they arrive, like ``review_score``: a rate over the complaints *on* the period's orders would
  read low for the latest periods, whose reviews are still coming in, and flatter a brand
  exactly where it is most current;
- ``late_shipment_rate = late_orders / ship_checked``: among orders with both a promised
  ship-by time and a shipping time, the share shipped after the promise;
- ``review_score = mean(score)`` of reviews created in the period on the brand's orders.

Each is null when its denominator is 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis.expr.types as ir

from windmaker.metrics.gmv import ratio
from windmaker.metrics.periods import Grain, period_of
from windmaker.metrics.sources import Sources

COLUMNS = (
    "refund_rate",
    "refund_amount_rate",
    "complaints_per_1k",
    "late_shipment_rate",
    "review_score",
)
SUPPORT = ("refunded_orders", "late_orders", "ship_checked", "complaints", "reviews")


def order_measures(f: ir.Table) -> dict[str, ir.Scalar]:
    """refunded_orders, ship_checked, late_orders over order facts."""
    return {
        "refunded_orders": f.count(where=f.refund_amount > 0),
        "ship_checked": f.count(where=f.ship_checked),
        "late_orders": f.count(where=f.is_late),
    }


def review_measures(
    src: Sources,
    grain: Grain,
    complaint_kinds: Sequence[str],
    since: ir.Value | None = None,
) -> ir.Table:
    """Reviews per brand × period (by review time): reviews, score_sum, complaints."""
    r = src.reviews
    if since is not None:
        r = r.filter(r.created_at >= since)
    r = r.select("order_id", "created_at", "score", "complaint")
    o = src.orders.select("order_id", "brand_id")
    r = r.inner_join(o, "order_id")
    r = r.mutate(period=period_of(r.created_at, grain))
    return r.group_by(["brand_id", "period"]).aggregate(
        reviews=r.count(),
        score_sum=r.score.sum(),
        complaints=r.count(where=r.complaint.isin(tuple(complaint_kinds))),
    )


def derive(t: ir.Table) -> dict[str, ir.Value]:
    """The trust rates from the measures."""
    return {
        "refund_rate": ratio(t.refunded_orders, t.orders),
        "refund_amount_rate": ratio(t.gross_gmv - t.net_gmv, t.gross_gmv),
        "complaints_per_1k": ratio(t.complaints, t.orders) * 1000.0,
        "late_shipment_rate": ratio(t.late_orders, t.ship_checked),
        "review_score": ratio(t.score_sum, t.reviews),
    }
