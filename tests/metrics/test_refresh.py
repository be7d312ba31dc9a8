"""Refresh: an incremental refresh after one new day equals a full recompute; CLI wiring."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
from typer.testing import CliRunner

from tests.metrics import factory
from windmaker.cli.main import app
from windmaker.metrics.refresh import TABLES
from windmaker.services.refresh import refresh
from windmaker.warehouse import Warehouse


def _incremental_equals_full(market, day: datetime, days: int = 1) -> None:
    """Refresh up to ``day``, add the rows of ``days`` days from it, refresh again: equal to a
    full recompute. ``day`` may be mid-day: the refresh then recomputes the day it started."""
    next_day = day + timedelta(days=days)
    o, s, r = market["orders"], market["live_sessions"], market["reviews"]
    before = dict(market)
    before["orders"] = o[o.paid_at < day]
    before["live_sessions"] = s[s.started_at < day]
    before["reviews"] = r[r.created_at < day]
    wh = Warehouse("duckdb://")
    factory.load(wh, before)
    assert refresh(wh).mode == "full"
    # one new day arrives in the sources
    wh.insert("orders", factory.to_arrow("orders", o[(o.paid_at >= day) & (o.paid_at < next_day)]))
    wh.insert(
        "live_sessions",
        factory.to_arrow("live_sessions", s[(s.started_at >= day) & (s.started_at < next_day)]),
    )
    wh.insert(
        "reviews",
        factory.to_arrow("reviews", r[(r.created_at >= day) & (r.created_at < next_day)]),
    )
    report = refresh(wh)
    assert report.mode == "incremental" and report.since >= day.date()
    got = factory.snapshot(wh)

    full = Warehouse("duckdb://")
    after = dict(market)
    after["orders"] = o[o.paid_at < next_day]
    after["live_sessions"] = s[s.started_at < next_day]
    after["reviews"] = r[r.created_at < next_day]
    factory.load(full, after)
    refresh(full, full=True)
    want = factory.snapshot(full)
    for t in TABLES:
        assert len(got[t]) > 0, t
        pd.testing.assert_frame_equal(got[t], want[t], check_exact=False, rtol=1e-12, obj=t)
    # nothing new: nothing recomputed
    assert refresh(wh).mode == "up_to_date"


def test_incremental_day_equals_full_recompute(market) -> None:
    _incremental_equals_full(market, datetime(2026, 3, 15))


def test_incremental_days_across_week_and_month_equal_full_recompute(market) -> None:
    """Twelve days at once, from mid-day on a Friday across a week's and a month's end: new
    buyer days whose previous day is itself new, or stored, or part of the started day."""
    _incremental_equals_full(market, datetime(2026, 3, 20, 13, 30), days=12)


def test_incremental_days_from_midnight_across_week_and_month_equal_full_recompute(market) -> None:
    """Ten whole days after the stored ones, across a week's and a month's end: the week and
    month buyer counts are updated from the new days alone."""
    _incremental_equals_full(market, datetime(2026, 3, 27), days=10)


def test_incremental_first_of_month_with_an_order_of_last_months_session(market) -> None:
    """An order paid on 1 March in a session started in late February changes February's driver
    tree (months are those of the session start): the incremental refresh must recompute it."""
    m, _ = factory.with_late_order(market, datetime(2026, 3, 1, 0, 30), seed=3)
    _incremental_equals_full(m, datetime(2026, 3, 1))


def test_backfill_before_watermark_forces_full(market) -> None:
    wh = Warehouse("duckdb://")
    o = market["orders"]
    early = dict(market)
    early["orders"] = o[o.order_id != o.order_id.iloc[0]]
    factory.load(wh, early)
    refresh(wh)
    wh.insert("orders", factory.to_arrow("orders", o.iloc[:1]))
    report = refresh(wh)
    assert report.mode == "full" and "before the last refresh" in report.reason


def test_cli_refresh_stores_tables(workspace, market) -> None:
    wh = Warehouse(workspace.warehouse_url)
    factory.load(wh, market)
    wh.close()
    result = CliRunner().invoke(app, ["refresh", "--workspace", str(workspace.workspace)])
    assert result.exit_code == 0, result.output
    assert "full" in result.output and "m_brand_month" in result.output
    again = CliRunner().invoke(app, ["refresh", "--workspace", str(workspace.workspace)])
    assert again.exit_code == 0 and "up_to_date" in again.output


def test_a_reader_sees_the_last_complete_refresh_until_the_next_commits(market, tmp_path) -> None:
    """Two connections to one warehouse file: while a refresh of new orders is under way (its
    writes made, not committed), the other connection's snapshot has the old months' net GMV,
    equal to the old orders' (counted in pandas); after the commit it has the new total."""
    o = market["orders"]
    cut = o.paid_at.max().normalize()
    early = dict(market)
    early["orders"] = o[o.paid_at < cut]
    path = tmp_path / "w.duckdb"
    writer = Warehouse(f"duckdb://{path}")
    factory.load(writer, early)
    refresh(writer)
    reader = Warehouse(f"duckdb://{path}")

    def months_gmv() -> Decimal:
        with reader.snapshot():
            m = reader.table("m_brand_month")
            return Decimal(str(reader.execute(m.net_gmv.sum())))

    def valid_gmv(orders: pd.DataFrame) -> Decimal:
        kept = orders[orders.status != "cancelled"]
        refund = kept.refund_amount.map(lambda x: Decimal(0) if x is None or pd.isna(x) else x)
        return Decimal(sum(kept.amount, Decimal(0)) - sum(refund, Decimal(0)))

    old = months_gmv()
    assert old == valid_gmv(early["orders"])
    writer.insert("orders", factory.to_arrow("orders", o[o.paid_at >= cut]))
    with writer.atomic():
        assert refresh(writer).mode == "incremental"
        assert months_gmv() == old
    assert months_gmv() == valid_gmv(o) != old
    reader.close()
    writer.close()
