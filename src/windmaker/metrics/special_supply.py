"""S — specify supply (品牌渠道特供): SKUs made exclusively for the channel.

Per brand × period, over order facts:

- ``special_supply_gmv = Σ net`` over orders of SKUs with ``skus.special_supply`` true;
- ``special_supply_share = special_supply_gmv / net_gmv``;
- ``special_supply_skus = count(distinct sku_id)`` of special-supply SKUs sold in the period.
"""

from __future__ import annotations

import ibis.expr.types as ir

from windmaker.metrics.gmv import ratio

COLUMNS = ("special_supply_gmv", "special_supply_share", "special_supply_skus")
SUPPORT: tuple[str, ...] = ()


def order_measures(f: ir.Table) -> dict[str, ir.Scalar]:
    """special_supply_gmv and special_supply_skus over order facts."""
    return {
        "special_supply_gmv": f.net.sum(where=f.is_special),
        "special_supply_skus": f.sku_id.nunique(where=f.is_special),
    }


def derive(t: ir.Table) -> dict[str, ir.Value]:
    """special_supply_share from the measures."""
    return {"special_supply_share": ratio(t.special_supply_gmv, t.net_gmv)}
