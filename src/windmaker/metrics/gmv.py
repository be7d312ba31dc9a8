"""GMV: net GMV after refunds, orders, buyers, average order value; and the order facts.

Every order-based metric reads :func:`order_facts`, the orders that count (not ``cancelled``)
narrowed to the columns metrics need and tagged with the attributes that decide attribution
(account kind, special-supply SKU, dedicated session, repeat purchase). Each capability module
contributes *measures* (reductions over these facts) that :mod:`windmaker.metrics.brand_period`
fuses into one aggregation per grain, so the orders are scanned once per grain, not once per
metric.

Definitions (per brand × period, over orders with ``status != 'cancelled'``):

- ``net_gmv = Σ (amount − refund_amount)`` (DECIMAL, exact);
- ``gross_gmv = Σ amount``;
- ``orders = count(orders)``; ``buyers = count(distinct buyer_id)``;
- ``aov = net_gmv / orders`` (null when there are no orders).
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from windmaker import contract
from windmaker.metrics.periods import Grain, period_of
from windmaker.metrics.sources import Sources

MONEY = "decimal(18,2)"
#: Buyers who bought again within these many days count as repeat buyers (see private_domain).
REPEAT_WINDOWS_DAYS = (90, 180)

#: The metric columns this module defines, in table order.
COLUMNS = ("net_gmv", "gross_gmv", "orders", "buyers", "aov")

_FACT_COLUMNS = (
    "order_id",
    "paid_at",
    "brand_id",
    "sku_id",
    "account_id",
    "session_id",
    "buyer_id",
    "traffic_source",
    "amount",
    "refund_amount",
    "promised_ship_by",
    "shipped_at",
)


def ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """``num / den`` as a double; null when ``den`` is 0 or null (an undefined ratio, not 0)."""
    return num.cast("float64") / den.cast("float64").nullif(0.0)


def money(x: ir.NumericValue) -> ir.DecimalValue:
    """A money sum as DECIMAL(18,2), zero when there was nothing to sum."""
    return x.fill_null(0).cast(MONEY)


def attach(left: ir.Table, right: ir.Table, keys: list[str]) -> ir.Table:
    """``left`` left-joined to ``right`` on ``keys``, keeping one copy of each key column."""
    j = left.left_join(right, keys)
    return j.drop(*[f"{k}_right" for k in keys if f"{k}_right" in j.columns])


def order_facts(src: Sources, since: datetime | None = None) -> ir.Table:
    """The orders that count (not cancelled), narrowed and tagged; one row per order.

    Columns: the order columns metrics use, ``net = amount − refund_amount``, ``is_self``
    (account kind in ``SELF_ACCOUNT_KINDS``), ``is_influencer``, ``is_special`` (the SKU is
    special supply), ``is_dedicated`` (sold in a session dedicated to the order's brand),
    ``ship_checked`` (promised and shipped times known), ``is_late`` (shipped after the promise),
    and ``repeat_90d`` / ``repeat_180d`` (see :func:`with_repeat_flags`).

    ``since`` keeps only orders paid at or after it; the repeat flags still see the earlier
    orders they need, so the result equals the unfiltered facts restricted to ``since``: each
    (brand, buyer) of the recent orders gets one stand-in row at its latest earlier order within
    the longest repeat window, which is all the flags of the recent orders depend on.
    """
    o = src.orders
    o = o.filter(o.status != "cancelled")
    if since is None:
        o = with_repeat_flags(o.select(*_FACT_COLUMNS))
    else:
        start = ibis.timestamp(since)
        recent = o.filter(o.paid_at >= start).select(*_FACT_COLUMNS)
        lookback = start - ibis.interval(days=max(REPEAT_WINDOWS_DAYS))
        before = o.filter((o.paid_at >= lookback) & (o.paid_at < start))
        before = before.select("brand_id", "buyer_id", "paid_at").semi_join(
            recent.select("brand_id", "buyer_id").distinct(), ["brand_id", "buyer_id"]
        )
        last = before.group_by(["brand_id", "buyer_id"]).aggregate(paid_at=before.paid_at.max())
        schema = recent.schema()
        stand_in = last.select(
            **{c: (last[c] if c in last.columns else ibis.null(schema[c])) for c in _FACT_COLUMNS}
        )
        both = recent.mutate(_recent=True).union(stand_in.mutate(_recent=False))
        flagged = with_repeat_flags(both)
        o = flagged.filter(flagged._recent).drop("_recent")
    acct = src.accounts.select("account_id", account_kind="kind")
    sku = src.skus.select("sku_id", is_special=src.skus.special_supply)
    sess = src.live_sessions.select("session_id", "dedicated_brand_id")
    f = attach(attach(attach(o, acct, ["account_id"]), sku, ["sku_id"]), sess, ["session_id"])
    checked = f.promised_ship_by.notnull() & f.shipped_at.notnull()
    return f.select(
        "paid_at",
        "brand_id",
        "buyer_id",
        "account_id",
        "sku_id",
        "session_id",
        "traffic_source",
        "amount",
        "refund_amount",
        *[f"repeat_{n}d" for n in REPEAT_WINDOWS_DAYS],
        net=f.amount - f.refund_amount,
        is_self=f.account_kind.isin(contract.SELF_ACCOUNT_KINDS).fill_null(False),
        is_influencer=(f.account_kind == "influencer").fill_null(False),
        is_special=f.is_special.fill_null(False),
        is_dedicated=(f.dedicated_brand_id == f.brand_id).fill_null(False),
        ship_checked=checked,
        is_late=(checked & (f.shipped_at > f.promised_ship_by)).fill_null(False),
    )


def with_repeat_flags(orders: ir.Table) -> ir.Table:
    """Add ``repeat_{N}d``: the buyer had bought from the same brand in the N days before.

    ``repeat_Nd(o) = ∃ o′ (same brand, same buyer, not cancelled): o.paid_at − N days ≤
    o′.paid_at < o.paid_at``. Computed from the previous order of the buyer at the brand
    (``lag(paid_at)`` ordered by paid_at, order_id); two orders paid in the same second are one
    basket, not a repurchase.
    """
    w = ibis.window(group_by=["brand_id", "buyer_id"], order_by=["paid_at", "order_id"])
    prev = orders.paid_at.lag().over(w)
    flags = {
        f"repeat_{n}d": (
            prev.notnull()
            & (orders.paid_at > prev)
            & (orders.paid_at <= prev + ibis.interval(days=n))
        ).fill_null(False)
        for n in REPEAT_WINDOWS_DAYS
    }
    return orders.mutate(**flags)


def with_period(f: ir.Table, grain: Grain, column: str = "paid_at") -> ir.Table:
    """``f`` with ``period`` = first day of the ``grain`` period holding ``column``."""
    return f.mutate(period=period_of(f[column], grain))


def order_measures(f: ir.Table) -> dict[str, ir.Scalar]:
    """Reductions over order facts: net_gmv, gross_gmv, orders, buyers."""
    return {
        "net_gmv": f.net.sum(),
        "gross_gmv": f.amount.sum(),
        "orders": f.count(),
        "buyers": f.buyer_id.nunique(),
    }


def derive(t: ir.Table) -> dict[str, ir.Value]:
    """Ratios from the measures: ``aov = net_gmv / orders``."""
    return {"aov": ratio(t.net_gmv, t.orders)}
