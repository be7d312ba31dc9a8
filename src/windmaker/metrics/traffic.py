"""T — traffic (公域流量加持): GMV reached through the platform's public traffic, and paid spend.

Per brand × period, over order facts:

- ``public_gmv = Σ net`` over orders whose traffic source is in ``PUBLIC_TRAFFIC_SOURCES``
  (recommend + paid); ``public_share = public_gmv / net_gmv``;
- ``paid_gmv = Σ net`` over ``traffic_source = 'paid'``;
- ``paid_spend = Σ ad_spend.spend`` over the period's days;
- ``roas = paid_gmv / paid_spend`` (null without spend);
- ``<source>_share = <source>_gmv / net_gmv`` for each traffic source (recommend, paid, search,
  other; follow is ``follower_gmv_share`` of private_domain): the five shares add to 1.
"""

from __future__ import annotations

import ibis.expr.types as ir

from windmaker import contract
from windmaker.metrics.gmv import ratio, sum_where
from windmaker.metrics.periods import Grain, period_of
from windmaker.metrics.sources import Sources

COLUMNS = (
    "paid_spend",
    "paid_gmv",
    "roas",
    "public_gmv",
    "public_share",
    "recommend_share",
    "paid_share",
    "search_share",
    "other_share",
)
SUPPORT = ("recommend_gmv", "search_gmv", "other_gmv")


def order_measures(f: ir.Table) -> dict[str, ir.Scalar]:
    """GMV by traffic source over order facts."""
    src = f.traffic_source
    return {
        "public_gmv": sum_where(f.net, src.isin(contract.PUBLIC_TRAFFIC_SOURCES)),
        "paid_gmv": sum_where(f.net, src == "paid"),
        "recommend_gmv": sum_where(f.net, src == "recommend"),
        "search_gmv": sum_where(f.net, src == "search"),
        "other_gmv": sum_where(f.net, src == "other"),
    }


def spend_measures(src: Sources, grain: Grain, since: ir.Value | None = None) -> ir.Table:
    """Paid-promotion spend per brand × period: paid_spend."""
    a = src.ad_spend
    if since is not None:
        a = a.filter(a.date >= since.cast("date"))
    a = a.select("brand_id", "spend", period=period_of(a.date, grain))
    return a.group_by(["brand_id", "period"]).aggregate(paid_spend=a.spend.sum())


def derive(t: ir.Table) -> dict[str, ir.Value]:
    """roas and the traffic-source shares from the measures."""
    return {
        "roas": ratio(t.paid_gmv, t.paid_spend),
        "public_share": ratio(t.public_gmv, t.net_gmv),
        "recommend_share": ratio(t.recommend_gmv, t.net_gmv),
        "paid_share": ratio(t.paid_gmv, t.net_gmv),
        "search_share": ratio(t.search_gmv, t.net_gmv),
        "other_share": ratio(t.other_gmv, t.net_gmv),
    }
