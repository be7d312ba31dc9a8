"""Refresh the metric tables: fully, or incrementally from the first day new rows touch.

What is recomputed and why is written in :mod:`windmaker.metrics.refresh`, which builds every
expression; this service runs them through the warehouse, keeps the bookkeeping tables
(``_m_refresh_state`` and the day bases) and reports what it did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import perf_counter
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from windmaker import contract
from windmaker.metrics import brand_period, category, drivers, factories, gmv, private_domain
from windmaker.metrics import refresh as mx
from windmaker.metrics.periods import GRAINS, period_start, period_table
from windmaker.metrics.sources import Sources
from windmaker.services.configs import Configs
from windmaker.warehouse import Warehouse, faults

#: The stages of a refresh, in order (``progress`` is called with each).
STAGES = mx.STAGES

Progress = Callable[[str], None]


@dataclass
class RefreshReport:
    """What a refresh did: full or incremental, from which day, time per stage, rows stored."""

    mode: Literal["full", "incremental", "up_to_date", "empty"]
    since: date | None = None
    reason: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _ts(x: Any) -> datetime | None:
    if x is None or pd.isna(x):
        return None
    return pd.Timestamp(x).to_pydatetime()


def _frame(wh: Warehouse, expr: ir.Table) -> pd.DataFrame:
    """Run a small query into pandas through Arrow (exact decimals, no lossy conversion)."""
    return wh.to_arrow(expr).to_pandas()


def _state_now(wh: Warehouse) -> pd.DataFrame:
    """Row count and latest time of every source table."""
    got = _frame(wh, mx.state_expression(wh.table)).set_index("source")
    rows = [
        (name, int(got.loc[name, "rows"]), _ts(got.loc[name, "max_time"]))
        for name, _ in mx.APPENDED
    ]
    rows += [(name, int(got.loc[name, "rows"]), None) for name in mx.REFERENCE]
    return pd.DataFrame(rows, columns=["source", "rows", "max_time"])


def _state_table(now: pd.DataFrame) -> pa.Table:
    return pa.table(
        {
            "source": pa.array(now.source.tolist(), pa.string()),
            "rows": pa.array(now["rows"].tolist(), pa.int64()),
            "max_time": pa.array(
                [None if pd.isna(x) else pd.Timestamp(x).to_pydatetime() for x in now.max_time],
                pa.timestamp("us"),
            ),
        }
    )


def _plan(
    wh: Warehouse, now: pd.DataFrame, left_out: ir.Table
) -> tuple[str, date | None, str, datetime | None]:
    """(mode, first changed day, reason, the orders' watermark at the last refresh) from the
    stored state, the current sources and ``left_out``, the orders to leave out now
    (:func:`windmaker.metrics.refresh.left_out`)."""
    present = set(wh.tables())
    if not all(t in present for t in (*mx.TABLES, mx.STATE, *mx.BASES)):
        return "full", None, "no stored metric tables", None
    if mx.LEFT_OUT not in present:
        return "full", None, "no record of the orders left out", None
    if set(private_domain.BUYER_DAY_COLUMNS) != set(wh.table(mx.BUYER_DAYS).columns):
        return "full", None, "metric bases of another version", None
    stored = set(wh.table(brand_period.table_name("month")).columns)
    if not set(brand_period.STORED_COLUMNS) <= stored or not set(drivers.COLUMNS) <= set(
        wh.table(mx.DRIVERS).columns
    ):
        return "full", None, "metric tables of another version", None
    prev = _frame(wh, wh.table(mx.STATE)).set_index("source")
    grown: dict[str, tuple[int, datetime]] = {}
    for r in now.itertuples():
        if r.source not in prev.index:
            return "full", None, f"{r.source} not tracked", None
        p = prev.loc[r.source]
        if r.source in mx.REFERENCE:
            if int(p["rows"]) != r.rows:
                return "full", None, f"{r.source} changed", None
            continue
        if r.rows == int(p["rows"]):
            if _ts(p["max_time"]) != r.max_time:
                return "full", None, f"{r.source} changed in place", None
            continue
        mark = _ts(p["max_time"])
        if mark is None:
            return "full", None, f"{r.source} was empty", None
        grown[r.source] = (r.rows - int(p["rows"]), mark)
    # an order that joined or left the set left out (a brushing flag set or lifted) changes the
    # periods from its payment day on, as a new row of that day does
    change = _frame(wh, mx.left_out_change_expression(wh.table(mx.LEFT_OUT), left_out))
    moved = int(change["n"].iloc[0]) > 0
    lo: datetime | None = _ts(change["lo"].iloc[0]) if moved else None
    if not grown:
        if lo is None:
            return "up_to_date", None, "no new rows", None
        return "incremental", lo.date(), "orders left out changed", _orders_mark(prev)
    # the rows past each watermark, for every grown source in one query
    marks = {name: mark for name, (_, mark) in grown.items()}
    got = _frame(wh, mx.newer_rows_expression(wh.table, marks)).set_index("source")
    for name, (n_grown, _) in grown.items():
        if int(got.loc[name, "n"]) != n_grown:
            return "full", None, f"{name}: rows changed before the last refresh", None
        first = _ts(got.loc[name, "lo"])
        if first is not None and (lo is None or first < lo):
            lo = first
    assert lo is not None
    reason = "new rows and orders left out changed" if moved else "new rows"
    return "incremental", lo.date(), reason, _orders_mark(prev)


def _orders_mark(prev: pd.DataFrame) -> datetime | None:
    """The orders' watermark at the last refresh."""
    return _ts(prev.loc[contract.ORDERS.name, "max_time"])


def _driver_cut(wh: Warehouse, src: Sources, orders: ir.Table, month: date) -> date:
    """The first month of the driver tree to recompute: ``month``, or the earlier month of a
    session that the new orders were sold in."""
    first = _ts(_frame(wh, mx.driver_cut_expression(src, orders))["lo"].iloc[0])
    if first is None or first.date() >= month:
        return month
    return period_start(first.date(), "month")


class _Looked(Warehouse):
    """The warehouse with its tables looked up once: each lookup asks the engine for the schema,
    and 60 of them cost 0.18 s of a one-day refresh. Writes and drops through it forget the
    table they replace; inserts and deletes keep the schema."""

    def __init__(self, wh: Warehouse) -> None:
        # the same connection, not a new one: no call to Warehouse.__init__
        self.url, self.engine, self.backend = wh.url, wh.engine, wh.backend
        self._tables: dict[str, ir.Table] = {}

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            self._tables[name] = super().table(name)
        return self._tables[name]

    def write(self, name: str, obj: Any, **options: Any) -> None:
        self._tables.pop(name, None)
        super().write(name, obj, **options)

    def drop(self, name: str) -> None:
        self._tables.pop(name, None)
        super().drop(name)


@contextmanager
def _unfused_selects() -> Iterator[None]:
    """Ibis compiles without merging stacked projections into one.

    Merging them costs Ibis a complexity score of the whole subtree per attempt, 40% of
    compiling a brand × period table (0.14 s against 0.09 s); the engine's optimizer removes
    the nested projections anyway (the same run time, measured on DuckDB).
    """
    before = ibis.options.sql.fuse_selects
    ibis.options.sql.fuse_selects = False
    try:
        yield
    finally:
        ibis.options.sql.fuse_selects = before


def refresh(
    warehouse: Warehouse,
    configs: Configs | None = None,
    *,
    full: bool = False,
    progress: Progress | None = None,
    exclude_brushing: bool = False,
) -> RefreshReport:
    """Compute and store every metric table; incremental unless ``full`` or a change needs it.

    ``configs`` holds the metrics configuration (``None``: the shipped defaults); ``progress``
    is called with each stage's name as it starts. With ``exclude_brushing``, orders in
    ``mdl_brushing_orders`` are left out of every metric (the workspace setting
    ``exclude_brushing_from_gmv``).

    The refresh is one transaction on DuckDB (or part of the main job's): its deletes and
    inserts, the day bases and ``_m_refresh_state`` are committed together, so readers never
    see a half-refreshed table and a refresh killed part-way is planned again from the state
    of the last complete one.
    """
    with warehouse.atomic():
        return _refresh(
            warehouse,
            configs,
            full=full,
            progress=progress,
            exclude_brushing=exclude_brushing,
        )


@_unfused_selects()
def _refresh(
    warehouse: Warehouse,
    configs: Configs | None,
    *,
    full: bool,
    progress: Progress | None,
    exclude_brushing: bool,
) -> RefreshReport:
    """The body of :func:`refresh`, inside its transaction."""
    config = (configs or Configs()).metrics
    wh = _Looked(warehouse)
    excluded = (
        wh.table(mx.BRUSHING_ORDERS)
        if exclude_brushing and wh.has_table(mx.BRUSHING_ORDERS)
        else None
    )
    step = progress or (lambda _stage: None)
    report = RefreshReport(mode="full")
    clock = perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now_ = perf_counter()
        report.seconds[stage] = now_ - clock
        clock = now_
        faults.reach(f"refresh.{stage}")

    step("inspect")
    now = _state_now(wh)
    left_out = mx.left_out(wh.table(contract.ORDERS.name), excluded)
    orders_row = now[now.source == contract.ORDERS.name].iloc[0]
    if orders_row["rows"] == 0:
        report.mode, report.reason = "empty", "no orders"
        return report
    mode, lo_day, reason, orders_mark = (
        ("full", None, "--full", None) if full else _plan(wh, now, left_out)
    )
    report.mode, report.since, report.reason = mode, lo_day, reason  # type: ignore[assignment]
    if mode == "up_to_date":
        lap("inspect")
        return report
    o = wh.table(contract.ORDERS.name)
    span = _frame(wh, o.aggregate(lo=o.paid_at.min(), hi=o.paid_at.max()))
    first_day = _ts(span["lo"].iloc[0]).date()  # type: ignore[union-attr]
    last_day = _ts(span["hi"].iloc[0]).date()  # type: ignore[union-attr]
    incremental = mode == "incremental"
    if incremental:
        assert lo_day is not None
        if lo_day < first_day:
            incremental, report.mode = False, "full"
    src = Sources.of(wh.table, excluded)
    # Every stored buyer day comes before the new ones: the week's and month's buyer counts are
    # updated from the new days instead of counted again (see private_domain.buyer_counts_added).
    appended = incremental and orders_mark is not None and orders_mark.date() < lo_day  # type: ignore[operator]
    lap("inspect")

    # facts of the new days, and the distinct-count bases kept between refreshes
    step("facts")
    since_d = datetime.combine(lo_day, time()) if incremental else None  # type: ignore[arg-type]
    # The facts stay an expression: each base reads only the joins it needs, which costs less
    # than writing every order's facts to the warehouse.
    facts = gmv.order_facts(src, since_d)
    fresh = brand_period.Bases.of(src, since_d)
    sides = brand_period.side_days(src, since=since_d, complaint_kinds=config.complaint_kinds)
    if since_d is None:
        for name, expr in zip(mx.BASES, (*mx.bases_of(fresh), sides), strict=True):
            ids = {"brand_id": "dictionary", "buyer_id": "dictionary"}
            wh.write(name, expr, compression=ids if name == mx.BUYER_DAYS else None)
    else:
        orders_d = gmv.counted_orders(src, since_d)
        prior = private_domain.buyer_prior(wh.table(mx.BUYER_DAYS), orders_d, ibis.date(lo_day))
        wh.write(f"{mx.BUYER_DAYS}_new", private_domain.buyer_days(orders_d, prior), scratch=True)
        wh.write(f"{mx.SIDE_DAYS}_new", sides, scratch=True)
        staged = (
            wh.table(f"{mx.BUYER_DAYS}_new"),
            *mx.bases_of(fresh)[1:],
            wh.table(f"{mx.SIDE_DAYS}_new"),
        )
        for name, expr in zip(mx.BASES, staged, strict=True):
            wh.delete_from(name, "day", lo_day)
            wh.insert(name, expr.select(*wh.table(name).columns))
    bases = brand_period.Bases(*(wh.table(n) for n in mx.BASES[:3]))
    lap("facts")

    # brand × period tables: days from the facts, weeks and months rolled up from the days
    starts = {g: period_start(lo_day, g) if incremental else None for g in GRAINS}  # type: ignore[arg-type]
    day_name = brand_period.table_name("day")
    for grain in GRAINS:
        step(grain)
        name = brand_period.table_name(grain)
        start_g = starts[grain]
        since_g = datetime.combine(start_g, time()) if start_g is not None else None
        ends = period_table(start_g or first_day, last_day, grain, data_start=first_day)
        buyers = None
        if appended and grain != "day":
            old_p = wh.table(name)
            old_p = old_p.filter(old_p.period >= ibis.date(start_g))  # type: ignore[arg-type]
            # the stored counts, kept aside: the period's rows are deleted before the insert
            kept = f"_{name}_buyers"
            counts = old_p.select("brand_id", "period", *private_domain.BUYER_COUNT_COLUMNS)
            wh.write(kept, counts, scratch=True)
            buyers = private_domain.buyer_counts_added(
                wh.table(kept), wh.table(f"{mx.BUYER_DAYS}_new"), grain
            )
        new = brand_period.brand_period_metrics(
            src,
            grain,
            ends,
            facts=facts,
            bases=bases,
            day=None if grain == "day" else wh.table(day_name),
            sides=wh.table(mx.SIDE_DAYS),
            since=since_g,
            complaint_kinds=config.complaint_kinds,
            buyers=buyers,
        )
        if grain == "day":
            # trailing windows of the new days reach back into stored days
            context = new
            if start_g is not None:
                back = start_g - timedelta(days=max(brand_period.TRAILING_DAYS) - 1)
                stored = wh.table(name).select(*new.columns).cast(new.schema())
                context = stored.filter(
                    (stored.period >= ibis.date(back)) & (stored.period < ibis.date(start_g))
                ).union(new)
            out = brand_period.with_trailing(new, brand_period.trailing_net_gmv(context), ends)
        else:
            day = wh.table(day_name)
            if start_g is not None:
                day = day.filter(day.period >= ibis.date(start_g))
            trailing = day.select(
                "brand_id",
                period_end="period",
                **{c: day[c] for c in brand_period.TRAILING_COLUMNS},
            )
            out = brand_period.with_trailing(new, trailing, ends)
        if grain == "month":
            before = None
            if start_g is not None:
                # the count of months with sales goes on from the last stored month before
                old = wh.table(name)
                old = old.filter(old.period < ibis.date(start_g))
                before = old.group_by("brand_id").aggregate(prior=old.months_with_sales.max())
            out = brand_period.with_months_with_sales(out, before)
        if start_g is None:
            wh.write(name, out.order_by(["period", "brand_id"]))
        else:
            wh.delete_from(name, "period", start_g)
            wh.insert(name, out.select(*wh.table(name).columns).cast(wh.table(name).schema()))
            if buyers is not None:
                wh.drop(f"_{name}_buyers")
        lap(grain)

    # cohorts: active buyers per cohort × month, from the buyer days
    step("cohorts")
    month_since = starts["month"]
    if month_since is not None:
        old_c = wh.table(mx.COHORTS)
        if appended:
            # the stored months' counts updated with the new buyer days (kept aside: the
            # months' rows are deleted before the insert)
            kept = old_c.filter(old_c.period >= ibis.date(month_since))
            wh.write(
                f"_{mx.COHORTS}_kept",
                kept.select("brand_id", "cohort", "period", "active_buyers"),
                scratch=True,
            )
            counts = private_domain.cohort_counts_added(
                wh.table(f"_{mx.COHORTS}_kept"), wh.table(f"{mx.BUYER_DAYS}_new")
            )
        else:
            b = bases.buyer_days
            counts = private_domain.cohort_counts(b.filter(b.day >= ibis.date(month_since)))
        sizes = old_c.filter(
            (old_c.period == old_c.cohort) & (old_c.cohort < ibis.date(month_since))
        )
        new_c = private_domain.cohort_retention(counts, sizes).select(*old_c.columns)
        # the sizes it reads are rows of cohorts' own months, before month_since: kept
        wh.delete_from(mx.COHORTS, "period", month_since)
        wh.insert(mx.COHORTS, new_c.cast(old_c.schema()))
        if appended:
            wh.drop(f"_{mx.COHORTS}_kept")
    else:
        out_c = private_domain.cohort_retention(private_domain.cohort_counts(bases.buyer_days))
        wh.write(mx.COHORTS, out_c.order_by(["period", "brand_id", "cohort"]))
    lap("cohorts")

    # driver trees: from the earliest month a new order or session touches; a month the data
    # ends inside is compared with the same days of the month before
    step("drivers")
    to_date = drivers.ToDate.of(first_day, last_day)
    same_live = same_buyers = None
    if to_date is not None:
        before = datetime.combine(to_date.previous[0], time())
        same_live = drivers.same_days_base(src, gmv.session_orders(src, before), to_date)
        same_buyers = drivers.same_days_buyers(wh.table(day_name), bases.buyer_days, to_date)
    month_t = wh.table(brand_period.table_name("month"))
    if month_since is not None:
        # every order from d on, those left out included: one that joined or left the set
        # changes the tree of its session's month
        every = Sources.of(wh.table)
        cut = _driver_cut(wh, src, gmv.counted_orders(every, since_d), month_since)
        since_c = datetime.combine(cut, time())
        sales = gmv.session_orders(src, since_c)
        base_new = drivers.driver_base(src, sales, ibis.timestamp(since_c))
        out_d = drivers.decompose_since(wh.table(mx.DRIVERS), base_new, cut, same_live)
        wh.delete_from(mx.DRIVERS, "period", cut)
        wh.insert(mx.DRIVERS, out_d.select(*wh.table(mx.DRIVERS).columns))
        out_b = drivers.buyer_drivers(month_t, month_since, same_buyers)
        wh.delete_from(mx.BUYER_DRIVERS, "period", month_since)
        wh.insert(mx.BUYER_DRIVERS, out_b.select(*wh.table(mx.BUYER_DRIVERS).columns))
    else:
        tree = drivers.gmv_drivers(src, gmv.session_orders(src), to_date)
        wh.write(mx.DRIVERS, tree.order_by(["period", "level", "entity_id"]))
        out_b = drivers.buyer_drivers(month_t, same_days=same_buyers)
        wh.write(mx.BUYER_DRIVERS, out_b.order_by(["period", "brand_id"]))
    lap("drivers")

    # category benchmarks: within category × month, so only the recomputed months change
    step("category")
    month = category.present(wh.table(brand_period.table_name("month")), src.brands)
    if month_since is not None:
        month = month.filter(month.period >= ibis.date(month_since))
        for name, expr in (
            (mx.PERCENTILES, category.percentiles(month, config.benchmark.min_category_brands)),
            (mx.CAPABILITIES, category.capabilities(month, config)),
        ):
            wh.delete_from(name, "period", month_since)
            wh.insert(name, expr.select(*wh.table(name).columns))
    else:
        wh.write(
            mx.PERCENTILES,
            category.percentiles(month, config.benchmark.min_category_brands).order_by(
                ["period", "brand_id", "metric"]
            ),
        )
        caps = category.capabilities(month, config)
        wh.write(mx.CAPABILITIES, caps.order_by(["period", "brand_id", "capability"]))
    lap("category")

    # the source factories' outcomes: per SKU × month, so only the recomputed months change
    step("factories")
    outcomes = factories.sku_months(
        wh.table(contract.ORDERS.name), src.skus, src.reviews, flagged=excluded, since=month_since
    )
    if month_since is not None:
        wh.delete_from(mx.FACTORIES, "period", month_since)
        wh.insert(mx.FACTORIES, outcomes.select(*wh.table(mx.FACTORIES).columns))
    else:
        wh.write(mx.FACTORIES, outcomes.order_by(["period", "sku_id"]))
    lap("factories")

    if incremental:
        wh.drop(f"{mx.BUYER_DAYS}_new")
        wh.drop(f"{mx.SIDE_DAYS}_new")
    wh.write(mx.STATE, _state_table(now))
    wh.write(mx.LEFT_OUT, left_out)
    counted = _frame(wh, mx.counts_expression({t: wh.table(t) for t in mx.TABLES}))
    report.rows.update({str(r.name): int(r.n) for r in counted.itertuples()})
    return report
