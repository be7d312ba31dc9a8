"""S — specify supply (品牌渠道特供): SKUs made exclusively for the channel.

Per brand × period, over order facts:

- ``special_supply_gmv = Σ net`` over orders of SKUs with ``skus.special_supply`` true;
- ``special_supply_share = special_supply_gmv / net_gmv``;
- ``special_supply_skus = count(distinct sku_id)`` of special-supply SKUs sold in the period.
"""

from __future__ import annotations

import ibis.expr.types as ir

from windmaker.metrics.gmv import ratio, sum_where
from windmaker.metrics.periods import Grain, period_of

COLUMNS = ("special_supply_gmv", "special_supply_share", "special_supply_skus")
SUPPORT: tuple[str, ...] = ()


def order_measures(f: ir.Table) -> dict[str, ir.Scalar]:
    """Additive reductions over order facts: special_supply_gmv."""
    return {"special_supply_gmv": sum_where(f.net, f.is_special)}


def sku_days(orders: ir.Table, special: ir.Table) -> ir.Table:
    """The special-supply SKUs sold per brand × day (the base of the distinct SKU count), from
    the counted orders and the special-supply SKUs (:func:`gmv.special_skus`)."""
    sp = orders.semi_join(special, "sku_id")
    return sp.select("brand_id", "sku_id", day=sp.paid_at.date()).distinct()


def sku_measures(days: ir.Table, grain: Grain) -> ir.Table:
    """Per brand × period, from :func:`sku_days`: special_supply_skus."""
    d = days.select("brand_id", "sku_id", period=period_of(days.day, grain)).distinct()
    return d.group_by(["brand_id", "period"]).aggregate(special_supply_skus=d.count())


def derive(t: ir.Table) -> dict[str, ir.Value]:
    """special_supply_share from the measures."""
    return {"special_supply_share": ratio(t.special_supply_gmv, t.net_gmv)}
