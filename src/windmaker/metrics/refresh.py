"""Refresh: compute the metric tables and store them in the warehouse, fully or incrementally.

The stages build expressions with the metric modules and run them only through
:class:`windmaker.warehouse.Warehouse`. Stored tables: ``m_brand_day``, ``m_brand_week``,
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
deleted and the new ones inserted, so each step is idempotent and the tables are not rewritten;
every such table is stored in period order, so the deleted rows sit together in the last row
groups (scattered deletions made DuckDB's checkpoint rewrite the whole driver tree, 0.5 s of a
one-day refresh).
The result equals a full refresh (tested). Rows changed in place before the watermark (a late
refund on an old order) need ``--full``.
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
from windmaker.metrics import brand_period, category, drivers, gmv, private_domain
from windmaker.metrics.config import MetricsConfig, load_metrics_config
from windmaker.metrics.periods import GRAINS, period_start, period_table
from windmaker.metrics.sources import Sources

STATE = "_m_refresh_state"
#: The distinct-count bases kept between refreshes (see :class:`brand_period.Bases`).
BUYER_DAYS = "_m_buyer_day"
INFLUENCER_DAYS = "_m_influencer_day"
SKU_DAYS = "_m_sku_day"
SIDE_DAYS = "_m_side_day"
BASES = (BUYER_DAYS, INFLUENCER_DAYS, SKU_DAYS, SIDE_DAYS)
COHORTS = "m_cohort_retention"
DRIVERS = "m_gmv_drivers"
BUYER_DRIVERS = "m_gmv_buyer_drivers"
PERCENTILES = "m_percentile"
CAPABILITIES = "m_capability"
TABLES = (
    *(brand_period.table_name(g) for g in GRAINS),
    COHORTS,
    DRIVERS,
    BUYER_DRIVERS,
    PERCENTILES,
    CAPABILITIES,
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

STAGES = ("inspect", "facts", "day", "week", "month", "cohorts", "drivers", "category")

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


def _frame(wh: Any, expr: ir.Table) -> pd.DataFrame:
    """Run a small query into pandas through Arrow (exact decimals, no lossy conversion)."""
    return wh.to_arrow(expr).to_pandas()


def _frames(wh: Any, parts: list[ir.Table]) -> pd.DataFrame:
    """Several small same-shaped queries run as one (each costs a compile and a plan)."""
    return _frame(wh, ibis.union(*parts) if len(parts) > 1 else parts[0])


def _counts(wh: Any, tables: dict[str, ir.Table]) -> dict[str, int]:
    """Row counts of several tables in one query."""
    parts = [t.aggregate(name=ibis.literal(name), n=t.count()) for name, t in tables.items()]
    return {str(r.name): int(r.n) for r in _frames(wh, parts).itertuples()}


#: The orders flagged as brushing (written by ``windmaker trust brushing``).
BRUSHING_ORDERS = "mdl_brushing_orders"


def _state_now(wh: Any, excluded: ir.Table | None = None) -> pd.DataFrame:
    """Row count and latest time of every source table, in one query.

    The excluded orders count as a reference source: when the set changes, every period may
    change, so the next refresh is a full one.
    """
    parts = []
    for name, col in APPENDED:
        t = wh.table(name)
        parts.append(
            t.aggregate(
                source=ibis.literal(name), rows=t.count(), max_time=t[col].max().cast("timestamp")
            )
        )
    refs = {name: wh.table(name) for name in REFERENCE}
    if excluded is not None:
        refs[BRUSHING_ORDERS] = excluded
    for name, t in refs.items():
        parts.append(
            t.aggregate(source=ibis.literal(name), rows=t.count(), max_time=ibis.null("timestamp"))
        )
    got = _frames(wh, parts).set_index("source")
    rows = [
        (name, int(got.loc[name, "rows"]), _ts(got.loc[name, "max_time"])) for name, _ in APPENDED
    ]
    rows += [(name, int(got.loc[name, "rows"]), None) for name in REFERENCE]
    rows.append(
        (
            BRUSHING_ORDERS,
            int(got.loc[BRUSHING_ORDERS, "rows"]) if excluded is not None else 0,
            None,
        )
    )
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


def _plan(wh: Any, now: pd.DataFrame) -> tuple[str, date | None, str, datetime | None]:
    """(mode, first changed day, reason, the orders' watermark at the last refresh) from the
    stored state and the current sources."""
    present = set(wh.tables())
    if not all(t in present for t in (*TABLES, STATE, *BASES)):
        return "full", None, "no stored metric tables", None
    if set(private_domain.BUYER_DAY_COLUMNS) != set(wh.table(BUYER_DAYS).columns):
        return "full", None, "metric bases of another version", None
    stored = set(wh.table(brand_period.table_name("month")).columns)
    if not set(brand_period.STORED_COLUMNS) <= stored or not set(drivers.COLUMNS) <= set(
        wh.table(DRIVERS).columns
    ):
        return "full", None, "metric tables of another version", None
    prev = _frame(wh, wh.table(STATE)).set_index("source")
    grown: dict[str, tuple[int, datetime]] = {}
    for r in now.itertuples():
        if r.source not in prev.index:
            return "full", None, f"{r.source} not tracked", None
        p = prev.loc[r.source]
        if r.source in (*REFERENCE, BRUSHING_ORDERS):
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
    if not grown:
        return "up_to_date", None, "no new rows", None
    # the rows past each watermark, for every grown source in one query
    parts = []
    for name, (_, mark) in grown.items():
        t = wh.table(name)
        col = dict(APPENDED)[name]
        newer = t.filter(t[col].cast("timestamp") > ibis.timestamp(mark))
        lo_at = newer[col].min().cast("timestamp")
        parts.append(newer.aggregate(source=ibis.literal(name), n=newer.count(), lo=lo_at))
    got = _frames(wh, parts).set_index("source")
    lo: datetime | None = None
    for name, (n_grown, _) in grown.items():
        if int(got.loc[name, "n"]) != n_grown:
            return "full", None, f"{name}: rows changed before the last refresh", None
        first = _ts(got.loc[name, "lo"])
        if first is not None and (lo is None or first < lo):
            lo = first
    assert lo is not None
    return "incremental", lo.date(), "new rows", _ts(prev.loc[contract.ORDERS.name, "max_time"])


def _fields(b: brand_period.Bases) -> tuple[ir.Table, ir.Table, ir.Table]:
    return b.buyer_days, b.influencer_days, b.sku_days


def _driver_cut(wh: Any, src: Sources, orders: ir.Table, month: date) -> date:
    """The first month of the driver tree to recompute: ``month``, or the earlier month of a
    session that the new orders were sold in (an order can be paid after its session's month)."""
    s = src.live_sessions
    hit = s.select("session_id", "started_at").semi_join(
        orders.filter(orders.session_id.notnull()).select("session_id"), "session_id"
    )
    first = _ts(_frame(wh, hit.aggregate(lo=hit.started_at.min()))["lo"].iloc[0])
    if first is None or first.date() >= month:
        return month
    return period_start(first.date(), "month")


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
    return out


class _Looked:
    """A warehouse whose tables are looked up once: each lookup asks the engine for the schema,
    and 60 of them cost 0.18 s of a one-day refresh. Writes and drops through it forget the
    table they replace; inserts and deletes keep the schema."""

    def __init__(self, wh: Any) -> None:
        self._wh = wh
        self._tables: dict[str, ir.Table] = {}

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            self._tables[name] = self._wh.table(name)
        return self._tables[name]

    def write(self, name: str, obj: Any, **options: Any) -> None:
        self._tables.pop(name, None)
        self._wh.write(name, obj, **options)

    def drop(self, name: str) -> None:
        self._tables.pop(name, None)
        self._wh.drop(name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._wh, attr)


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


@_unfused_selects()
def refresh(
    wh: Any,
    *,
    full: bool = False,
    config: MetricsConfig | None = None,
    progress: Progress | None = None,
    exclude_brushing: bool = False,
) -> RefreshReport:
    """Compute and store every metric table; incremental unless ``full`` or a change needs it.

    ``wh`` is a :class:`windmaker.warehouse.Warehouse`; ``progress`` is called with each stage's
    name as it starts. With ``exclude_brushing``, orders in ``mdl_brushing_orders`` are left out
    of every metric (the workspace setting ``exclude_brushing_from_gmv``).
    """
    config = config or load_metrics_config()
    wh = _Looked(wh)
    excluded = (
        wh.table(BRUSHING_ORDERS) if exclude_brushing and wh.has_table(BRUSHING_ORDERS) else None
    )
    step = progress or (lambda _stage: None)
    report = RefreshReport(mode="full")
    clock = perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now_ = perf_counter()
        report.seconds[stage] = now_ - clock
        clock = now_

    step("inspect")
    now = _state_now(wh, excluded)
    orders_row = now[now.source == contract.ORDERS.name].iloc[0]
    if orders_row["rows"] == 0:
        report.mode, report.reason = "empty", "no orders"
        return report
    mode, lo_day, reason, orders_mark = ("full", None, "--full", None) if full else _plan(wh, now)
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
        for name, expr in zip(BASES, (*_fields(fresh), sides), strict=True):
            ids = {"brand_id": "dictionary", "buyer_id": "dictionary"}
            wh.write(name, expr, compression=ids if name == BUYER_DAYS else None)
    else:
        orders_d = gmv.counted_orders(src, since_d)
        prior = private_domain.buyer_prior(wh.table(BUYER_DAYS), orders_d, ibis.date(lo_day))
        wh.write(f"{BUYER_DAYS}_new", private_domain.buyer_days(orders_d, prior), scratch=True)
        wh.write(f"{SIDE_DAYS}_new", sides, scratch=True)
        staged = (
            wh.table(f"{BUYER_DAYS}_new"),
            *_fields(fresh)[1:],
            wh.table(f"{SIDE_DAYS}_new"),
        )
        for name, expr in zip(BASES, staged, strict=True):
            wh.delete_from(name, "day", lo_day)
            wh.insert(name, expr.select(*wh.table(name).columns))
    bases = brand_period.Bases(*(wh.table(n) for n in BASES[:3]))
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
                wh.table(kept), wh.table(f"{BUYER_DAYS}_new"), grain
            )
        new = brand_period.brand_period_metrics(
            src,
            grain,
            ends,
            facts=facts,
            bases=bases,
            day=None if grain == "day" else wh.table(day_name),
            sides=wh.table(SIDE_DAYS),
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
        old_c = wh.table(COHORTS)
        if appended:
            # the stored months' counts updated with the new buyer days (kept aside: the
            # months' rows are deleted before the insert)
            kept = old_c.filter(old_c.period >= ibis.date(month_since))
            wh.write(
                f"_{COHORTS}_kept",
                kept.select("brand_id", "cohort", "period", "active_buyers"),
                scratch=True,
            )
            counts = private_domain.cohort_counts_added(
                wh.table(f"_{COHORTS}_kept"), wh.table(f"{BUYER_DAYS}_new")
            )
        else:
            b = bases.buyer_days
            counts = private_domain.cohort_counts(b.filter(b.day >= ibis.date(month_since)))
        sizes = old_c.filter(
            (old_c.period == old_c.cohort) & (old_c.cohort < ibis.date(month_since))
        )
        new_c = private_domain.cohort_retention(counts, sizes).select(*old_c.columns)
        # the sizes it reads are rows of cohorts' own months, before month_since: kept
        wh.delete_from(COHORTS, "period", month_since)
        wh.insert(COHORTS, new_c.cast(old_c.schema()))
        if appended:
            wh.drop(f"_{COHORTS}_kept")
    else:
        out_c = private_domain.cohort_retention(private_domain.cohort_counts(bases.buyer_days))
        wh.write(COHORTS, out_c.order_by(["period", "brand_id", "cohort"]))
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
        cut = _driver_cut(wh, src, gmv.counted_orders(src, since_d), month_since)
        since_c = datetime.combine(cut, time())
        sales = gmv.session_orders(src, since_c)
        base_new = drivers.driver_base(src, sales, ibis.timestamp(since_c))
        out_d = drivers.decompose_since(wh.table(DRIVERS), base_new, cut, same_live)
        wh.delete_from(DRIVERS, "period", cut)
        wh.insert(DRIVERS, out_d.select(*wh.table(DRIVERS).columns))
        out_b = drivers.buyer_drivers(month_t, month_since, same_buyers)
        wh.delete_from(BUYER_DRIVERS, "period", month_since)
        wh.insert(BUYER_DRIVERS, out_b.select(*wh.table(BUYER_DRIVERS).columns))
    else:
        tree = drivers.gmv_drivers(src, gmv.session_orders(src), to_date)
        wh.write(DRIVERS, tree.order_by(["period", "level", "entity_id"]))
        out_b = drivers.buyer_drivers(month_t, same_days=same_buyers)
        wh.write(BUYER_DRIVERS, out_b.order_by(["period", "brand_id"]))
    lap("drivers")

    # category benchmarks: within category × month, so only the recomputed months change
    step("category")
    month = category.present(wh.table(brand_period.table_name("month")), src.brands)
    if month_since is not None:
        month = month.filter(month.period >= ibis.date(month_since))
        for name, expr in (
            (PERCENTILES, category.percentiles(month, config.benchmark.min_category_brands)),
            (CAPABILITIES, category.capabilities(month, config)),
        ):
            wh.delete_from(name, "period", month_since)
            wh.insert(name, expr.select(*wh.table(name).columns))
    else:
        wh.write(
            PERCENTILES,
            category.percentiles(month, config.benchmark.min_category_brands).order_by(
                ["period", "brand_id", "metric"]
            ),
        )
        caps = category.capabilities(month, config)
        wh.write(CAPABILITIES, caps.order_by(["period", "brand_id", "capability"]))
    lap("category")

    if incremental:
        wh.drop(f"{BUYER_DAYS}_new")
        wh.drop(f"{SIDE_DAYS}_new")
    wh.write(STATE, _state_table(now))
    report.rows.update(_counts(wh, {t: wh.table(t) for t in TABLES}))
    return report
