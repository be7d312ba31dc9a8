"""Refresh: the expressions of the metric tables, for a full or an incremental refresh.

This module names the tables and builds what a refresh runs; the refresh itself (what it reads,
writes and keeps between refreshes) is the service :func:`windmaker.services.refresh.refresh`,
which executes only through :class:`windmaker.warehouse.Warehouse`. Stored tables: ``m_brand_day``, ``m_brand_week``,
``m_brand_month``, ``m_cohort_retention``, ``m_gmv_drivers``, ``m_percentile``,
``m_capability``; bookkeeping: ``_m_refresh_state`` (per source table: row count and latest
time at the last refresh) and the bases kept between refreshes: ``_m_buyer_day`` (brand × buyer ×
day: last order time, repeat flags, cohort), ``_m_influencer_day`` (brand × day × influencer:
net GMV), ``_m_sku_day`` (brand × day × special-supply SKU) and ``_m_side_day`` (brand × day sums
of sessions, ad spend, follows and reviews).

A full refresh scans the orders once per base: the day table aggregates the order facts per
day; weeks and months sum the stored days' additive columns and count their distinct buyers,
influencers and SKUs from the bases (at most one row per day each), so no grain rescans the
orders.

Incremental refresh: rows that arrived after the stored watermark (orders, sessions, ad spend,
reviews, follows) are the only change when every table's row count grew by exactly the number
of rows past its watermark and brands, accounts and SKUs are unchanged; otherwise the refresh is
full. The earliest new timestamp's day ``d`` decides what is recomputed: the bases' days from
``d`` on (a new buyer day takes its previous order time and cohort from the stored buyer days);
the day, week and month periods from the one holding ``d`` onward (every metric of a period
depends only on that period's rows and, for the repurchase flags, on earlier orders, so later
periods are the only ones a new row can change), with their trailing windows (when every stored
buyer day precedes ``d``, the weeks' and months' buyer counts are the stored ones updated from the
new buyer days: :func:`private_domain.buyer_counts_added`, and so are the cohorts' active buyers);
cohort retention
from ``d``'s month (older cohorts' sizes come from stored rows); the driver tree from ``d``'s month
or the earlier month of a session a new order was sold in (the comparison rows come from the
stored tree); and the category tables of those months. Stored rows of the recomputed periods are
deleted and the new ones inserted, as are the source factories' SKU × month outcomes
(``m_factory_sku_month``, :func:`factories.sku_months`) of those months, so each step is
idempotent and the tables are not rewritten; every such table is stored in period order, so the deleted rows sit together in the last row
groups (scattered deletions made DuckDB's checkpoint rewrite the whole driver tree, 0.5 s of a
one-day refresh).
The orders left out of every metric (flagged as brushing) are kept as ``_m_left_out`` (order id
and payment time): an order that joins or leaves the set changes only the periods from its
payment day on, so the earliest payment day among them counts as a ``d`` too, and a new
brushing flag on one day of a year no longer recomputes the year.
The result equals a full refresh (tested). Rows changed in place before the watermark (a late
refund on an old order) need ``--full``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import ibis
import ibis.expr.types as ir

from windmaker import contract, results
from windmaker.metrics import brand_period, category, drivers, factories, gmv, private_domain
from windmaker.metrics.config import MetricsConfig, load_metrics_config
from windmaker.metrics.periods import GRAINS, period_table
from windmaker.metrics.sources import Sources

STATE = results.REFRESH_STATE
#: The distinct-count bases kept between refreshes (see :class:`brand_period.Bases`).
BUYER_DAYS = results.BUYER_DAYS
INFLUENCER_DAYS = results.INFLUENCER_DAYS
SKU_DAYS = results.SKU_DAYS
SIDE_DAYS = results.SIDE_DAYS
BASES = (BUYER_DAYS, INFLUENCER_DAYS, SKU_DAYS, SIDE_DAYS)
COHORTS = results.COHORT_RETENTION
DRIVERS = results.GMV_DRIVERS
BUYER_DRIVERS = results.GMV_BUYER_DRIVERS
PERCENTILES = results.PERCENTILE
CAPABILITIES = results.CAPABILITY
FACTORIES = results.FACTORY_SKU_MONTHS
TABLES = (
    *(brand_period.table_name(g) for g in GRAINS),
    COHORTS,
    DRIVERS,
    BUYER_DRIVERS,
    PERCENTILES,
    CAPABILITIES,
    FACTORIES,
)
#: Source tables whose new rows an incremental refresh absorbs, with their time column.
APPENDED = tuple(
    (t.name, t.time_column)
    for t in (
        contract.ORDERS,
        contract.LIVE_SESSIONS,
        contract.AD_SPEND,
        contract.REVIEWS,
        contract.FOLLOWS,
    )
)
#: Source tables whose any change forces a full refresh.
REFERENCE = (contract.BRANDS.name, contract.ACCOUNTS.name, contract.SKUS.name)
#: The orders flagged as brushing (written by the brushing step of the main job).
BRUSHING_ORDERS = results.BRUSHING_ORDERS
#: The orders the last refresh left out (order_id, paid_at).
LEFT_OUT = results.LEFT_OUT

STAGES = (
    "inspect",
    "facts",
    "day",
    "week",
    "month",
    "cohorts",
    "drivers",
    "category",
    "factories",
)

Tables = Callable[[str], ir.Table]


def union(parts: list[ir.Table]) -> ir.Table:
    """Several small same-shaped queries as one (each costs a compile and a plan)."""
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def counts_expression(tables: dict[str, ir.Table]) -> ir.Table:
    """Row counts of several tables in one query: ``name``, ``n``."""
    return union([t.aggregate(name=ibis.literal(name), n=t.count()) for name, t in tables.items()])


def state_expression(table: Tables) -> ir.Table:
    """Row count and latest time of every source table, in one query: ``source``, ``rows``,
    ``max_time``."""
    parts = []
    for name, col in APPENDED:
        t = table(name)
        parts.append(
            t.aggregate(
                source=ibis.literal(name), rows=t.count(), max_time=t[col].max().cast("timestamp")
            )
        )
    for name in REFERENCE:
        t = table(name)
        parts.append(
            t.aggregate(source=ibis.literal(name), rows=t.count(), max_time=ibis.null("timestamp"))
        )
    return union(parts)


def left_out(orders: ir.Table, excluded: ir.Table | None) -> ir.Table:
    """The orders ``excluded`` names (none when ``None``), with their payment time as it
    records it: ``order_id``, ``paid_at``.

    When ``excluded`` carries the payment time (the brushing flags are made from the orders
    and do), the orders are not read again to look the ids up (21M orders: 0.4 s, twice in
    the refresh and twice in the trust step). An id that no longer names an order is left in:
    the orders were removed since the flags were made, and every plan that compares these
    sets then counts everything again for the removal itself."""
    o = orders.select("order_id", "paid_at")
    if excluded is None:
        return o.limit(0)
    if "paid_at" not in excluded.columns:  # a list of ids alone: their orders are looked up
        return o.semi_join(excluded.select("order_id").distinct(), "order_id")
    paid_at = excluded.paid_at.cast(orders.paid_at.type())
    return excluded.select("order_id", paid_at=paid_at).distinct()


def left_out_change_expression(before: ir.Table, now: ir.Table) -> ir.Table:
    """The orders left out by one of ``before`` and ``now`` (:func:`left_out` tables) and not
    by the other: how many (``n``) and the earliest payment among them (``lo``)."""
    added = now.anti_join(before, "order_id")
    removed = before.anti_join(now, "order_id").select(*added.columns)
    both = added.union(removed, distinct=False)
    return both.aggregate(n=both.count(), lo=both.paid_at.min().cast("timestamp"))


def newer_rows_expression(table: Tables, marks: dict[str, datetime]) -> ir.Table:
    """Per appended source in ``marks``: its rows past the watermark (``n``) and the earliest
    of their times (``lo``), in one query."""
    parts = []
    for name, mark in marks.items():
        t = table(name)
        col = dict(APPENDED)[name]
        newer = t.filter(t[col].cast("timestamp") > ibis.timestamp(mark))
        lo_at = newer[col].min().cast("timestamp")
        parts.append(newer.aggregate(source=ibis.literal(name), n=newer.count(), lo=lo_at))
    return union(parts)


def driver_cut_expression(src: Sources, orders: ir.Table) -> ir.Table:
    """The earliest start (``lo``) of the sessions ``orders`` were sold in: an order can be paid
    after its session's month, and the driver tree must be recomputed from that month."""
    s = src.live_sessions
    hit = s.select("session_id", "started_at").semi_join(
        orders.filter(orders.session_id.notnull()).select("session_id"), "session_id"
    )
    return hit.aggregate(lo=hit.started_at.min())


def bases_of(b: brand_period.Bases) -> tuple[ir.Table, ir.Table, ir.Table]:
    """The buyer, influencer and SKU day bases, in the order of :data:`BASES`."""
    return b.buyer_days, b.influencer_days, b.sku_days


def metric_expressions(
    src: Sources,
    first_day: date,
    last_day: date,
    config: MetricsConfig | None = None,
) -> dict[str, ir.Table]:
    """Every metric table of a full refresh as one unexecuted expression each (no staging).

    What :func:`refresh` stores, built in one piece: used to run the whole metric set on another
    engine (the DuckDB/Spark parity test) without intermediate tables.
    """
    config = config or load_metrics_config()
    facts = gmv.order_facts(src)
    bases = brand_period.Bases.of(src)
    out: dict[str, ir.Table] = {}
    day = brand_period.brand_period_metrics(
        src,
        "day",
        period_table(first_day, last_day, "day"),
        facts=facts,
        bases=bases,
        complaint_kinds=config.complaint_kinds,
    )
    trailing = brand_period.trailing_net_gmv(day)
    for grain in GRAINS:
        periods = period_table(first_day, last_day, grain)
        t = (
            day
            if grain == "day"
            else brand_period.brand_period_metrics(
                src,
                grain,
                periods,
                facts=facts,
                bases=bases,
                complaint_kinds=config.complaint_kinds,
            )
        )
        t = brand_period.with_trailing(t, trailing, periods)
        if grain == "month":
            t = brand_period.with_months_with_sales(t)
        out[brand_period.table_name(grain)] = t
    out[COHORTS] = private_domain.cohort_retention(private_domain.cohort_counts(bases.buyer_days))
    to_date = drivers.ToDate.of(first_day, last_day)
    out[DRIVERS] = drivers.gmv_drivers(src, facts, to_date)
    same = drivers.same_days_buyers(day, bases.buyer_days, to_date) if to_date is not None else None
    out[BUYER_DRIVERS] = drivers.buyer_drivers(
        out[brand_period.table_name("month")], same_days=same
    )
    month = category.present(out[brand_period.table_name("month")], src.brands)
    out[PERCENTILES] = category.percentiles(month, config.benchmark.min_category_brands)
    out[CAPABILITIES] = category.capabilities(month, config)
    # (the orders of ``src`` are already the counted ones: nothing more to leave out)
    out[FACTORIES] = factories.sku_months(src.orders, src.skus, src.reviews)
    return out
