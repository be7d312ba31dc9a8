"""Refresh: an incremental refresh after one new day equals a full recompute; CLI wiring."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from typer.testing import CliRunner

from tests.metrics import factory
from windmaker.cli.main import app
from windmaker.metrics.refresh import TABLES, refresh
from windmaker.warehouse import Warehouse

_KEYS = ("level", "entity_id", "brand_id", "cohort", "period", "capability", "metric")


def _snapshot(wh: Warehouse) -> dict[str, pd.DataFrame]:
    out = {}
    for t in TABLES:
        df = wh.to_arrow(wh.table(t)).to_pandas()
        keys = [c for c in _KEYS if c in df.columns]
        out[t] = df.sort_values(keys).reset_index(drop=True)
    return out


def test_incremental_day_equals_full_recompute(market) -> None:
    day = datetime(2026, 3, 15)
    next_day = datetime(2026, 3, 16)
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
    assert report.mode == "incremental" and str(report.since) == "2026-03-15"
    got = _snapshot(wh)

    full = Warehouse("duckdb://")
    after = dict(market)
    after["orders"] = o[o.paid_at < next_day]
    after["live_sessions"] = s[s.started_at < next_day]
    after["reviews"] = r[r.created_at < next_day]
    factory.load(full, after)
    refresh(full, full=True)
    want = _snapshot(full)
    for t in TABLES:
        assert len(got[t]) > 0, t
        pd.testing.assert_frame_equal(got[t], want[t], check_exact=False, rtol=1e-12, obj=t)
    # nothing new: nothing recomputed
    assert refresh(wh).mode == "up_to_date"


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
