"""The brand × period metric tables (``m_brand_day``, ``m_brand_week``, ``m_brand_month``).

One expression per grain fuses every capability module's additive measures into a single
aggregation of the order facts per day (weeks and months sum the stored days), joins the
measures of the other sources (live sessions, ad spend, follows, reviews) and the distinct counts
(buyers, repeat buyers, influencers, special-supply SKUs, read from pre-deduplicated brand × day
bases), and derives the ratios. Rows: every brand × every period of the requested range,
brands without sales included — their counts and money are 0 and their ratios null (an
undefined ratio, not a zero share). The trailing windows and ``months_with_sales`` are added by
:func:`with_trailing` and :func:`with_months_with_sales` over the stored tables, because they
reach across periods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

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
from windmaker.metrics.gmv import MONEY, attach, attach_all, money, with_period
from windmaker.metrics.periods import COVERAGE_COLUMNS, TRAILING_DAYS, Grain, period_of
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
#: Columns every stored brand × period table has (the month table adds months_with_sales); a
#: stored table without one of them was written by another version and is recomputed whole.
STORED_COLUMNS = (*KEYS, *METRIC_COLUMNS, *SUPPORT_COLUMNS, *TRAILING_COLUMNS, *COVERAGE_COLUMNS)
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
#: Measures that add up over days (a week's or month's value is the sum of its days').
ADDITIVE_COLUMNS = (
    "net_gmv",
    "gross_gmv",
    "orders",
    "self_gmv",
    "self_live_gmv",
    "public_gmv",
    "paid_gmv",
    "recommend_gmv",
    "search_gmv",
    "other_gmv",
    "distribution_gmv",
    "dedicated_gmv",
    "follower_gmv",
    "special_supply_gmv",
    "refunded_orders",
    "ship_checked",
    "late_orders",
)
#: Additive measures of the other sources (sessions, ad spend, follows, reviews), by their type.
SIDE_COLUMNS = {
    "live_seconds": "int64",
    "self_viewers": "int64",
    "paid_spend": MONEY,
    "new_follows": "int64",
    "reviews": "int64",
    "score_sum": "int64",
    "complaints": "int64",
}
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


@dataclass(frozen=True)
class Bases:
    """The pre-deduplicated bases the distinct counts read (expressions or stored tables).

    ``buyer_days`` (:func:`private_domain.buyer_days`), ``influencer_days``
    (:func:`distribution.influencer_days`), ``sku_days`` (:func:`special_supply.sku_days`): each
    has a ``day`` column, so a week or month counts its distinct buyers, influencers and SKUs
    from at most one row per day instead of rescanning the orders.
    """

    buyer_days: ir.Table
    influencer_days: ir.Table
    sku_days: ir.Table

    @classmethod
    def of(cls, src: Sources, since: datetime | None = None) -> Bases:
        """The bases as expressions over the counted orders (paid since ``since``), each with
        only the join it needs."""
        orders = gmv.counted_orders(src, since)
        return cls(
            private_domain.buyer_days(orders),
            distribution.influencer_days(orders, gmv.influencer_accounts(src)),
            special_supply.sku_days(orders, gmv.special_skus(src)),
        )

    def since(self, start: date) -> Bases:
        """The rows of days on or after ``start``."""
        d = ibis.date(start)
        return Bases(
            *(t.filter(t.day >= d) for t in (self.buyer_days, self.influencer_days, self.sku_days))
        )


def _sides(
    src: Sources, grain: Grain, since: datetime | None, complaint_kinds: Sequence[str]
) -> list[ir.Table]:
    since_expr = ibis.timestamp(since) if since is not None else None
    return [
        self_operation.session_measures(src, grain, since_expr),
        traffic.spend_measures(src, grain, since_expr),
        private_domain.follow_measures(src, grain, since_expr),
        trust.review_measures(src, grain, complaint_kinds, since_expr),
    ]


def side_days(
    src: Sources,
    *,
    since: datetime | None = None,
    complaint_kinds: Sequence[str] = ("quality", "misleading"),
) -> ir.Table:
    """The additive measures of sessions, ad spend, follows and reviews per brand × ``day``.

    Kept by the refresh over the sources' whole time range (a review can come after the last
    order), so weeks and months sum days instead of joining reviews to orders again.
    """
    parts = []
    for side in _sides(src, "day", since, complaint_kinds):
        parts.append(
            side.select(
                "brand_id",
                day=side.period,
                **{
                    c: (side[c] if c in side.columns else ibis.literal(0)).cast(ty)
                    for c, ty in SIDE_COLUMNS.items()
                },
            )
        )
    u = parts[0]
    for part in parts[1:]:
        u = u.union(part)
    return u.group_by(["brand_id", "day"]).aggregate(
        **{c: u[c].sum().cast(ty) for c, ty in SIDE_COLUMNS.items()}
    )


def roll_up(
    day: ir.Table, grain: Grain, columns: Sequence[str], since: date | None = None
) -> ir.Table:
    """``columns`` of a per-day table (``day`` or ``period`` column) summed per brand × ``grain``.

    Every additive measure (money, counts, seconds, score sums) of a week or a month is the sum
    of its days, so the longer grains never rescan the orders.
    """
    when = day.day if "day" in day.columns else day.period
    if since is not None:
        day = day.filter(when >= ibis.date(since))
        when = day.day if "day" in day.columns else day.period
    d = day.select("brand_id", *columns, period=period_of(when, grain))
    return d.group_by(["brand_id", "period"]).aggregate(**{c: d[c].sum() for c in columns})


def brand_period_metrics(
    src: Sources,
    grain: Grain,
    periods: ir.Table,
    *,
    facts: ir.Table | None = None,
    bases: Bases | None = None,
    day: ir.Table | None = None,
    sides: ir.Table | None = None,
    since: datetime | None = None,
    complaint_kinds: Sequence[str] = ("quality", "misleading"),
    buyers: ir.Table | None = None,
) -> ir.Table:
    """Every brand × period metric of ``grain`` for the periods listed in ``periods``.

    Parameters
    ----------
    periods
        A table with a ``period`` column (first days), e.g. :func:`periods.period_table`.
    facts
        The order facts (:func:`gmv.order_facts`), when the caller has materialised them.
    bases
        The distinct-count bases (:class:`Bases`), when the caller has materialised them;
        built from the facts otherwise.
    day
        The stored day table: the additive measures of a week or month are rolled up from it
        instead of aggregating the facts again.
    sides
        The stored :func:`side_days`, read instead of the sessions, spend, follows and reviews.
    since
        Start of the first period in ``periods``; lets every source skip older rows.
    buyers
        The buyer counts (brand_id, period, buyers, repeat_buyers_{N}d), when the caller has
        them (:func:`private_domain.buyer_counts_added`); counted from the buyer days otherwise.
    """
    if facts is None:
        facts = gmv.order_facts(src, since if bases is not None else None)
    elif since is not None:
        facts = facts.filter(facts.paid_at >= ibis.timestamp(since))
    if bases is None:
        bases = Bases.of(src)
    if since is not None:
        bases = bases.since(since.date())
    start = since.date() if since is not None else None
    if day is not None and grain != "day":
        sums = [roll_up(day, grain, ADDITIVE_COLUMNS, start)]
    else:
        f = with_period(facts, grain)
        measures: dict[str, ir.Scalar] = {}
        for m in MODULES:
            measures.update(m.order_measures(f))
        sums = [f.group_by(["brand_id", "period"]).aggregate(**measures)]
    if sides is not None:
        sums.append(roll_up(sides, grain, tuple(SIDE_COLUMNS), start))
    else:
        sums += _sides(src, grain, since, complaint_kinds)
    if buyers is None:
        buyers = private_domain.buyer_counts(bases.buyer_days, grain)
    distinct = [
        buyers,
        distribution.influencer_measures(bases.influencer_days, grain),
        special_supply.sku_measures(bases.sku_days, grain),
    ]
    t = src.brands.select("brand_id", "category").cross_join(periods.select("period"))
    t = attach_all(t, [(side, ["brand_id", "period"]) for side in (*sums, *distinct)])
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
    """Add the trailing windows ending on each period's as-of day, and the period's coverage.

    ``trailing`` is :func:`trailing_net_gmv`; ``period_ends`` is :func:`periods.period_table`
    (period → period_end, the as-of day, days_covered, to_date). A period the data ends inside
    reads its windows on the data's last day: its calendar end has no row, and reading it there
    would store 0 for a brand that sells every day.
    """
    drop = (*TRAILING_COLUMNS, *COVERAGE_COLUMNS, "months_with_sales")
    base = t.drop(*[c for c in drop if c in t.columns])
    out = attach_all(
        base,
        [
            (period_ends.select("period", "period_end", "days_covered", "to_date"), ["period"]),
            (
                trailing.select("brand_id", "period_end", *TRAILING_COLUMNS),
                ["brand_id", "period_end"],
            ),
        ],
    )
    return out.select(
        *base.columns,
        **{c: money(out[c]) for c in TRAILING_COLUMNS},
        as_of=out.period_end,
        days_covered=out.days_covered.cast("int64"),
        to_date=out.to_date,
    )


def with_months_with_sales(month: ir.Table, before: ir.Table | None = None) -> ir.Table:
    """Add ``months_with_sales``: months with ``net_gmv > 0`` up to and including the period.

    ``before`` (brand_id, prior) carries the count of the months before ``month``'s first, for
    a refresh that recomputes only its latest months.
    """
    base = month.drop("months_with_sales") if "months_with_sales" in month.columns else month
    w = ibis.window(group_by="brand_id", order_by="period", preceding=None, following=0)
    if before is None:
        count = (base.net_gmv > 0).cast("int64").sum().over(w)
        return base.mutate(months_with_sales=count.cast("int64"))
    j = attach(base, before, ["brand_id"])
    count = (j.net_gmv > 0).cast("int64").sum().over(w) + j.prior.fill_null(0)
    return j.select(*base.columns, months_with_sales=count.cast("int64"))
