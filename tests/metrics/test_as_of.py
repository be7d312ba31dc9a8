"""Data that ends mid-period: trailing windows end at the as-of day, the period is "to date".

Known answer: the trailing sums of :func:`tests.metrics.reference.trailing` over the stored day
table, read on the data's last day, and the calendar arithmetic of the cut. Every real export
ends mid-month, and so does every day of a daily refresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from tests.metrics import factory, reference
from windmaker.services.refresh import refresh
from windmaker.warehouse import Warehouse

CUT = datetime(2026, 3, 17)  # the export ends on the 16th of March (its last order that day)
AS_OF = date(2026, 3, 16)


def _cut_warehouse(market: dict[str, pd.DataFrame]) -> Warehouse:
    m = dict(market)
    o, s, r = m["orders"], m["live_sessions"], m["reviews"]
    m["orders"] = o[o.paid_at < CUT]
    m["live_sessions"] = s[s.started_at < CUT]
    m["reviews"] = r[r.created_at < CUT]
    assert m["orders"].paid_at.max().date() == AS_OF
    wh = Warehouse("duckdb://")
    factory.load(wh, m)
    refresh(wh, full=True)
    return wh


@pytest.fixture(scope="module")
def cut(market: dict[str, pd.DataFrame]) -> Iterator[Warehouse]:
    wh = _cut_warehouse(market)
    yield wh
    wh.close()


def _table(wh: Warehouse, name: str) -> pd.DataFrame:
    return wh.to_arrow(wh.table(name)).to_pandas()


def test_to_date_month_reads_windows_on_the_as_of_day(cut: Warehouse) -> None:
    day = _table(cut, "m_brand_day")
    month = _table(cut, "m_brand_month")
    march = month[month.period == date(2026, 3, 1)]
    assert len(march) == 6
    assert (march.as_of == AS_OF).all()
    assert (march.days_covered == 16).all()
    assert march.to_date.all()
    for n in (30, 90):
        want = reference.trailing(day, n)
        for row in march.itertuples():
            assert getattr(row, f"net_gmv_t{n}d") == want[(row.brand_id, AS_OF)], (row.brand_id, n)
    # brands that sold in the last 30 days do not read 0 (the old calendar-end reading did)
    sold = day[(day.period > date(2026, 2, 14)) & (day.net_gmv > 0)].brand_id.unique()
    assert len(sold) >= 4
    assert (march.set_index("brand_id").loc[sold, "net_gmv_t30d"] > Decimal(0)).all()


def test_closed_periods_are_whole_and_not_to_date(cut: Warehouse) -> None:
    month = _table(cut, "m_brand_month")
    feb = month[month.period == date(2026, 2, 1)]
    assert (feb.as_of == date(2026, 2, 28)).all()
    assert (feb.days_covered == 28).all()
    assert not feb.to_date.any()


def test_to_date_week_ends_at_the_as_of_day(cut: Warehouse) -> None:
    week = _table(cut, "m_brand_week")
    day = _table(cut, "m_brand_day")
    last = week[week.period == date(2026, 3, 16)]  # a Monday: one day covered
    assert (last.as_of == AS_OF).all() and (last.days_covered == 1).all() and last.to_date.all()
    want = reference.trailing(day, 90)
    for row in last.itertuples():
        assert row.net_gmv_t90d == want[(row.brand_id, AS_OF)]


def test_stored_tables_without_coverage_are_recomputed_whole(
    market: dict[str, pd.DataFrame],
) -> None:
    """A warehouse refreshed by a version without the as-of columns gets a full refresh."""
    with _cut_warehouse(market) as wh:
        month = wh.table("m_brand_month")
        wh.write("m_brand_month", month.drop("as_of", "days_covered", "to_date"))
        wh.insert("orders", factory.to_arrow("orders", _one_more_order(wh)))
        report = refresh(wh)
        assert report.mode == "full" and "another version" in report.reason
        assert "as_of" in wh.table("m_brand_month").columns


def _one_more_order(wh: Warehouse) -> pd.DataFrame:
    last = wh.to_arrow(wh.table("orders").order_by("paid_at").limit(1)).to_pandas()
    last["order_id"] = "O-AFTER-CUT"
    last["paid_at"] = datetime(2026, 3, 17, 9)
    return last


def test_to_date_month_is_compared_with_the_same_days_before(
    cut: Warehouse, market: dict[str, pd.DataFrame]
) -> None:
    """March to the 16th against February 1–16, not against all of February: the buyer tree's
    comparison is the orders, net GMV and distinct buyers of those days (counted here from the
    orders), and the live tree's is the UV of the brand's sessions started in those days."""
    buyers = _table(cut, "m_gmv_buyer_drivers")
    march = buyers[buyers.period == date(2026, 3, 1)].set_index("brand_id")
    assert (march.compared_days == 16).all()
    o = market["orders"]
    o = o[(o.status != "cancelled") & (o.paid_at >= datetime(2026, 2, 1))]
    o = o[o.paid_at < datetime(2026, 2, 17)]
    for brand, row in march.iterrows():
        mine = o[o.brand_id == brand]
        net = sum((a - r for a, r in zip(mine.amount, mine.refund_amount, strict=True)), Decimal(0))
        assert row.prev_orders == len(mine), brand
        assert row.prev_net_gmv == net, brand
        assert row.prev_buyers == mine.buyer_id.nunique(), brand
    feb = buyers[buyers.period == date(2026, 2, 1)]
    assert feb.compared_days.isna().all()  # a whole month: the whole month before

    live = _table(cut, "m_gmv_drivers")
    brand_rows = live[(live.level == "brand") & (live.period == date(2026, 3, 1))]
    assert len(brand_rows) > 0 and (brand_rows.compared_days == 16).all()
    s = market["live_sessions"]
    accounts = market["accounts"]
    own = dict(zip(accounts.account_id, accounts.brand_id, strict=True))
    days = s[(s.started_at >= datetime(2026, 2, 1)) & (s.started_at < datetime(2026, 2, 17))]
    for row in brand_rows.itertuples():
        mine = days[
            (days.account_id.map(own) == row.brand_id) | (days.dedicated_brand_id == row.brand_id)
        ]
        if len(mine):
            assert row.prev_uv == mine.viewers.sum(), row.brand_id
