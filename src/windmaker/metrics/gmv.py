"""GMV: net GMV after refunds, orders, buyers, average order value; and the order facts.

Every order-based metric reads :func:`order_facts`, the orders that count (not ``cancelled``)
narrowed to the columns metrics need and tagged with the attributes that decide attribution
(account kind, special-supply SKU, dedicated session). Each capability module contributes
*measures*: additive sums over these facts, which :mod:`windmaker.metrics.brand_period` fuses
into one aggregation per day and rolls up to weeks and months, and distinct counts over small
pre-deduplicated bases (brand × day × buyer, × influencer, × SKU), so the orders are scanned
once, not once per grain or metric.

Definitions (per brand × period, over orders with ``status != 'cancelled'``):

- ``net_gmv = Σ (amount − refund_amount)`` (DECIMAL, exact);
- ``gross_gmv = Σ amount``;
- ``orders = count(orders)``; ``buyers = count(distinct buyer_id)``;
- ``aov = net_gmv / orders`` (null when there are no orders).
"""

from __future__ import annotations

from collections.abc import Sequence
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


def sum_where(x: ir.NumericValue, cond: ir.BooleanValue) -> ir.NumericScalar:
    """``Σ x`` over the rows where ``cond`` holds, 0 when none does.

    Written as a sum of ``CASE WHEN cond THEN x ELSE 0 END`` rather than an aggregate filter:
    DuckDB runs each filtered aggregate over its own selection, and the day table's eleven
    filtered money sums took 20% longer that way (1.35 s against 1.09 s on 19M orders).
    """
    return ibis.ifelse(cond, x, 0).sum()


def money(x: ir.NumericValue) -> ir.DecimalValue:
    """A money sum as DECIMAL(18,2), zero when there was nothing to sum."""
    return x.fill_null(0).cast(MONEY)


def attach(left: ir.Table, right: ir.Table, keys: Sequence[str]) -> ir.Table:
    """``left`` left-joined to ``right`` on ``keys``, keeping one copy of each key column."""
    return attach_all(left, [(right, keys)])


def attach_all(left: ir.Table, rights: Sequence[tuple[ir.Table, Sequence[str]]]) -> ir.Table:
    """``left`` left-joined to each ``(right, keys)`` in turn: ``left``'s columns, then each
    right side's other columns. A key may be a column an earlier right side brought.

    The right sides' keys are renamed apart so the joins form one Ibis join chain; joining
    step by step (a projection after each join) nests a subquery per join, which doubled
    Ibis's compile time on the brand × period tables (0.15 s against 0.07 s a grain).
    """
    j = left
    out: list[str] = []
    for i, (r, keys) in enumerate(rights):
        rr = r.rename({f"_k{i}_{k}": k for k in keys})
        j = j.left_join(rr, [(k, f"_k{i}_{k}") for k in keys])
        out += [c for c in r.columns if c not in keys]
    return j.select(*left.columns, *out)


def counted_orders(src: Sources, since: datetime | None = None) -> ir.Table:
    """The orders that count (``status != 'cancelled'``), paid at or after ``since`` if given."""
    o = src.orders
    o = o.filter(o.status != "cancelled")
    if since is not None:
        o = o.filter(o.paid_at >= ibis.timestamp(since))
    return o


def special_skus(src: Sources) -> ir.Table:
    """The special-supply SKUs (渠道特供): sku_id."""
    return src.skus.filter(src.skus.special_supply.fill_null(False)).select("sku_id")


def influencer_accounts(src: Sources) -> ir.Table:
    """The influencer accounts (达人): account_id."""
    return src.accounts.filter(src.accounts.kind == "influencer").select("account_id")


def order_facts(src: Sources, since: datetime | None = None) -> ir.Table:
    """The orders that count (not cancelled), narrowed and tagged; one row per order.

    Columns: the order columns metrics use, ``net = amount − refund_amount``, ``is_self``
    (account kind in ``SELF_ACCOUNT_KINDS`` and the account belongs to the order's brand),
    ``is_influencer``, ``is_special`` (the SKU is special supply), ``is_dedicated`` (sold in a
    session dedicated to the order's brand), ``ship_checked`` (promised and shipped times known)
    and ``is_late`` (shipped after the promise). ``since`` keeps only orders paid at or after it.
    Repeat purchases are flagged on the buyer bases
    (:func:`windmaker.metrics.private_domain.buyer_days`), not per order.
    """
    o = counted_orders(src, since).select(*_FACT_COLUMNS)
    acct = src.accounts.select("account_id", account_kind="kind", account_brand_id="brand_id")
    # Only the rows that can set a flag go into the joins' hash tables (special-supply SKUs,
    # dedicated sessions): every order probes them, and small tables stay in cache.
    sku = special_skus(src).mutate(is_special=ibis.literal(True))
    ls = src.live_sessions
    sess = ls.filter(ls.dedicated_brand_id.notnull()).select("session_id", "dedicated_brand_id")
    f = attach_all(o, [(acct, ["account_id"]), (sku, ["sku_id"]), (sess, ["session_id"])])
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
        net=f.amount - f.refund_amount,
        # A brand's own account selling another brand's goods is neither brand's self-operation.
        is_self=(
            f.account_kind.isin(contract.SELF_ACCOUNT_KINDS) & (f.account_brand_id == f.brand_id)
        ).fill_null(False),
        is_influencer=(f.account_kind == "influencer").fill_null(False),
        is_special=f.is_special.fill_null(False),
        is_dedicated=(f.dedicated_brand_id == f.brand_id).fill_null(False),
        ship_checked=checked,
        is_late=(checked & (f.shipped_at > f.promised_ship_by)).fill_null(False),
    )


def session_orders(src: Sources, since: datetime | None = None) -> ir.Table:
    """The counted orders sold in a live session, paid since ``since``: session_id, brand_id, net.

    What the driver tree reads, without the joins of :func:`order_facts`.
    """
    o = counted_orders(src, since)
    o = o.filter(o.session_id.notnull())
    return o.select("session_id", "brand_id", net=o.amount - o.refund_amount)


def with_period(f: ir.Table, grain: Grain, column: str = "paid_at") -> ir.Table:
    """``f`` with ``period`` = first day of the ``grain`` period holding ``column``."""
    return f.mutate(period=period_of(f[column], grain))


def order_measures(f: ir.Table) -> dict[str, ir.Scalar]:
    """Additive reductions over order facts: net_gmv, gross_gmv, orders."""
    return {"net_gmv": f.net.sum(), "gross_gmv": f.amount.sum(), "orders": f.count()}


def derive(t: ir.Table) -> dict[str, ir.Value]:
    """Ratios from the measures: ``aov = net_gmv / orders``."""
    return {"aov": ratio(t.net_gmv, t.orders)}
