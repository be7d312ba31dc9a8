"""The brand × period metric tables (``m_brand_day``, ``m_brand_week``, ``m_brand_month``).

One expression per grain fuses every capability module's measures into a single aggregation of
the order facts, joins the measures of the other sources (live sessions, ad spend, follows,
reviews), and derives the ratios. Rows: every brand × every period of the requested range,
brands without sales included — their counts and money are 0 and their ratios null (an
undefined ratio, not a zero share). The trailing windows and ``months_with_sales`` are added by
:func:`with_trailing` and :func:`with_months_with_sales` over the stored tables, because they
reach across periods.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir

from windmaker.metrics import (
    distribution,
    gmv,
    private_domain,
    self_operation,
    special_supply,
    traffic,
    trust,
)
from windmaker.metrics.gmv import MONEY, attach, money, with_period
from windmaker.metrics.periods import TRAILING_DAYS, Grain
from windmaker.metrics.sources import Sources

KEYS = ("brand_id", "category", "period")
MODULES = (gmv, self_operation, traffic, distribution, private_domain, special_supply, trust)

#: Metric columns of the brand × period tables, in table order.
METRIC_COLUMNS: tuple[str, ...] = tuple(c for m in MODULES for c in m.COLUMNS)
#: Sums behind the ratios, stored alongside so every ratio can be rolled up and checked.
SUPPORT_COLUMNS: tuple[str, ...] = (
    *self_operation.SUPPORT,
    "live_seconds",
    *traffic.SUPPORT,
    *distribution.SUPPORT,
    *private_domain.SUPPORT,
    *trust.SUPPORT,
    "score_sum",
)
TRAILING_COLUMNS = tuple(f"net_gmv_t{n}d" for n in TRAILING_DAYS)
#: Money columns (DECIMAL(18,2)); compared exactly across engines.
MONEY_COLUMNS = (
    "net_gmv",
    "gross_gmv",
    "self_gmv",
    "self_live_gmv",
    "paid_spend",
    "paid_gmv",
    "public_gmv",
    "recommend_gmv",
    "search_gmv",
    "other_gmv",
    "distribution_gmv",
    "top_influencer_gmv",
    "dedicated_gmv",
    "follower_gmv",
    "special_supply_gmv",
    *TRAILING_COLUMNS,
)
_INT_COLUMNS = (
    "orders",
    "buyers",
    "self_viewers",
    "live_seconds",
    "active_influencers",
    "new_follows",
    "special_supply_skus",
    "refunded_orders",
    "ship_checked",
    "late_orders",
    "complaints",
    "reviews",
    "score_sum",
    *private_domain.SUPPORT,
)


def table_name(grain: Grain) -> str:
    """The warehouse table of ``grain``: ``m_brand_day``, ``m_brand_week``, ``m_brand_month``."""
    return f"m_brand_{grain}"


def brand_period_metrics(
    src: Sources,
    grain: Grain,
    periods: ir.Table,
    *,
    facts: ir.Table | None = None,
    since: datetime | None = None,
    complaint_kinds: Sequence[str] = ("quality", "misleading"),
) -> ir.Table:
    """Every brand × period metric of ``grain`` for the periods listed in ``periods``.

    Parameters
    ----------
    periods
        A table with a ``period`` column (first days), e.g. :func:`periods.period_table`.
    facts
        The order facts (:func:`gmv.order_facts`), when the caller has materialised them.
    since
        Start of the first period in ``periods``; lets every source skip older rows.
    """
    if facts is None:
        facts = gmv.order_facts(src, since)
    elif since is not None:
        facts = facts.filter(facts.paid_at >= ibis.timestamp(since))
    f = with_period(facts, grain)
    measures: dict[str, ir.Scalar] = {}
    for m in MODULES:
        measures.update(m.order_measures(f))
    main = f.group_by(["brand_id", "period"]).aggregate(**measures)
    since_expr = ibis.timestamp(since) if since is not None else None
    sides = [
        distribution.concentration_measures(f),
        self_operation.session_measures(src, grain, since_expr),
        traffic.spend_measures(src, grain, since_expr),
        private_domain.follow_measures(src, grain, since_expr),
        trust.review_measures(src, grain, complaint_kinds, since_expr),
    ]
    t = src.brands.select("brand_id", "category").cross_join(periods.select("period"))
    for side in (main, *sides):
        t = attach(t, side, ["brand_id", "period"])
    fills: dict[str, ir.Value] = {}
    for c in t.columns:
        if c in MONEY_COLUMNS:
            fills[c] = money(t[c])
        elif c in _INT_COLUMNS:
            fills[c] = t[c].fill_null(0).cast("int64")
        elif c == "influencer_gmv_sq":
            fills[c] = t[c].fill_null(0.0).cast("float64")
    t = t.mutate(**fills)
    derived: dict[str, ir.Value] = {}
    for m in MODULES:
        derived.update(m.derive(t))
    t = t.mutate(**derived)
    return t.select(*KEYS, *METRIC_COLUMNS, *SUPPORT_COLUMNS)


def trailing_net_gmv(day: ir.Table) -> ir.Table:
    """Trailing net GMV per brand × day: ``net_gmv_t{N}d = Σ net_gmv`` over the N days ending on it.

    ``day`` must hold every day of the range for every brand (the day table does), so a window
    of N rows is N days; days before the first stored day count as zero.
    """
    cols: dict[str, ir.Value] = {}
    for n in TRAILING_DAYS:
        w = ibis.window(group_by="brand_id", order_by="period", preceding=n - 1, following=0)
        cols[f"net_gmv_t{n}d"] = day.net_gmv.sum().over(w).cast(MONEY)
    return day.select("brand_id", period_end="period", **cols)


def with_trailing(t: ir.Table, trailing: ir.Table, period_ends: ir.Table) -> ir.Table:
    """Add the trailing windows ending on each period's last day.

    ``trailing`` is :func:`trailing_net_gmv`; ``period_ends`` maps period → period_end.
    """
    base = t.drop(*[c for c in (*TRAILING_COLUMNS, "months_with_sales") if c in t.columns])
    base = attach(base, period_ends.select("period", "period_end"), ["period"])
    out = attach(base, trailing, ["brand_id", "period_end"])
    return out.mutate(**{c: money(out[c]) for c in TRAILING_COLUMNS}).drop("period_end")


def with_months_with_sales(month: ir.Table) -> ir.Table:
    """Add ``months_with_sales``: months with ``net_gmv > 0`` up to and including the period."""
    base = month.drop("months_with_sales") if "months_with_sales" in month.columns else month
    w = ibis.window(group_by="brand_id", order_by="period", preceding=None, following=0)
    has_sales = (base.net_gmv > 0).cast("int64")
    return base.mutate(months_with_sales=has_sales.sum().over(w).cast("int64"))
