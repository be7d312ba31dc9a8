"""E — elite distribution (达人分销合作): what influencers sell for the brand.

Per brand × period, over order facts:

- ``distribution_gmv = Σ net`` over orders sold by an ``influencer`` account;
  ``distribution_share = distribution_gmv / net_gmv``;
- ``active_influencers = count(distinct account_id)`` of influencers with an order;
- ``top_influencer_share = max_i g_i / distribution_gmv``, with ``g_i`` the net GMV influencer
  ``i`` sold for the brand in the period (null without distribution GMV);
- ``influencer_hhi = Σ_i (g_i / distribution_gmv)²``: the Herfindahl–Hirschman concentration of
  distribution, 1 when one influencer sells everything, 1/n when n sell equally;
- ``dedicated_gmv = Σ net`` over orders sold in a live session dedicated to the brand
  (达人专场, ``live_sessions.dedicated_brand_id = orders.brand_id``).
"""

from __future__ import annotations

import ibis.expr.types as ir

from windmaker.metrics.gmv import MONEY, ratio, sum_where
from windmaker.metrics.periods import Grain, period_of

COLUMNS = (
    "distribution_gmv",
    "distribution_share",
    "active_influencers",
    "top_influencer_share",
    "influencer_hhi",
    "dedicated_gmv",
)
SUPPORT = ("top_influencer_gmv", "influencer_gmv_sq")


def order_measures(f: ir.Table) -> dict[str, ir.Scalar]:
    """Additive reductions over order facts: distribution_gmv, dedicated_gmv."""
    return {
        "distribution_gmv": sum_where(f.net, f.is_influencer),
        "dedicated_gmv": sum_where(f.net, f.is_dedicated),
    }


def influencer_days(orders: ir.Table, influencers: ir.Table) -> ir.Table:
    """Influencer sales per brand × day × influencer account: ``g`` = Σ net (the base of the
    distinct influencer counts and the concentration measures).

    ``orders`` are the counted orders (:func:`gmv.counted_orders`), ``influencers`` the
    influencer accounts (:func:`gmv.influencer_accounts`): the one join this base needs.
    """
    inf = orders.semi_join(influencers, "account_id")
    inf = inf.select(
        "brand_id", "account_id", net=inf.amount - inf.refund_amount, day=inf.paid_at.date()
    )
    return inf.group_by(["brand_id", "day", "account_id"]).aggregate(g=inf.net.sum().cast(MONEY))


def influencer_measures(days: ir.Table, grain: Grain) -> ir.Table:
    """Per brand × period, from :func:`influencer_days`: active_influencers, the top
    influencer's GMV and Σ g_i² (``g_i`` the net GMV influencer ``i`` sold for the brand)."""
    if grain == "day":
        g = days.select("brand_id", "account_id", "g", period=days.day)
    else:
        d = days.mutate(period=period_of(days.day, grain))
        g = d.group_by(["brand_id", "period", "account_id"]).aggregate(g=d.g.sum().cast(MONEY))
    gf = g.g.cast("float64")
    return g.group_by(["brand_id", "period"]).aggregate(
        active_influencers=g.count(),
        top_influencer_gmv=g.g.max(),
        influencer_gmv_sq=(gf * gf).sum(),
    )


def derive(t: ir.Table) -> dict[str, ir.Value]:
    """distribution_share, top_influencer_share, influencer_hhi from the measures."""
    dist = t.distribution_gmv.cast("float64")
    return {
        "distribution_share": ratio(t.distribution_gmv, t.net_gmv),
        "top_influencer_share": ratio(t.top_influencer_gmv, t.distribution_gmv),
        "influencer_hhi": ratio(t.influencer_gmv_sq, dist * dist),
    }
