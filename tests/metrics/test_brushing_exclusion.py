"""Orders flagged as brushing are left out of every metric when the workspace says so, and a
change in the flagged set is refreshed from the earliest day it touches, equal to a full
refresh with the same flags."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from tests.metrics import factory
from windmaker.metrics.refresh import BRUSHING_ORDERS, TABLES
from windmaker.services.refresh import refresh
from windmaker.warehouse import Warehouse


def _month(wh: Warehouse) -> pd.DataFrame:
    df = wh.to_arrow(wh.table("m_brand_month")).to_pandas()
    return df.assign(period=pd.to_datetime(df["period"])).set_index(["brand_id", "period"])


def test_flagged_orders_leave_gmv_orders_and_buyers(market) -> None:  # type: ignore[no-untyped-def]
    o = market["orders"]
    counted = o[(o.status != "cancelled") & (o.brand_id == "B2")]
    flagged = counted.sort_values("order_id").iloc[:5]
    wh = Warehouse("duckdb://")
    factory.load(wh, market)
    wh.write(
        BRUSHING_ORDERS, pa.table({"order_id": pa.array(flagged.order_id.tolist(), pa.string())})
    )

    refresh(wh, full=True)
    kept = _month(wh)
    refresh(wh, full=True, exclude_brushing=True)
    dropped = _month(wh)

    # Reference in plain pandas: each flagged order's net GMV leaves its brand-month.
    months = flagged.paid_at.dt.to_period("M").dt.to_timestamp()
    lost = (flagged.amount - flagged.refund_amount).groupby([flagged.brand_id, months]).sum()
    n_lost = flagged.groupby([flagged.brand_id, months]).size()
    for (brand, month), net in lost.items():
        key = (brand, month)
        assert Decimal(kept.loc[key, "net_gmv"]) - Decimal(dropped.loc[key, "net_gmv"]) == net
        assert kept.loc[key, "orders"] - dropped.loc[key, "orders"] == n_lost[(brand, month)]
    others = kept.index.get_level_values(0) != "B2"
    pd.testing.assert_series_equal(kept.loc[others, "net_gmv"], dropped.loc[others, "net_gmv"])


def _flags(wh: Warehouse, ids: list[str], paid: pd.Series | None = None) -> None:
    """Flag the orders ``ids``: the ids alone, or with each order's payment time (``paid``, by
    order id), as brushing detection writes them."""
    cols = {"order_id": pa.array(ids, pa.string())}
    if paid is not None:
        cols["paid_at"] = pa.array(paid.loc[ids].tolist(), pa.timestamp("us"))
    wh.write(BRUSHING_ORDERS, pa.table(cols))


def _equals_full(market, wh: Warehouse, flags: list[str], *, exclude: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Every metric table of ``wh`` equals a full refresh of the market with ``flags``."""
    full = Warehouse("duckdb://")
    factory.load(full, market)
    _flags(full, flags)
    refresh(full, full=True, exclude_brushing=exclude)
    got, want = factory.snapshot(wh), factory.snapshot(full)
    for t in TABLES:
        assert len(got[t]) > 0, t
        pd.testing.assert_frame_equal(got[t], want[t], check_exact=False, rtol=1e-12, obj=t)


def _counted(market) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    o = market["orders"]
    return o[o.status != "cancelled"].sort_values(["paid_at", "order_id"])


@pytest.mark.parametrize("with_paid_at", [False, True])
def test_a_flag_set_or_lifted_is_refreshed_from_its_day(market, with_paid_at: bool) -> None:  # type: ignore[no-untyped-def]
    """A new flag on a mid-February order recomputes from that day; lifting it and flagging a
    March order instead (the same number of flags, which once went unseen) recomputes from
    February again; both equal a full refresh with the same flags. The flags name the orders
    alone, or carry their payment time as brushing detection's do (then the orders are not
    read to find it)."""
    counted = _counted(market)
    paid = market["orders"].set_index("order_id")["paid_at"] if with_paid_at else None
    early = counted[counted.paid_at < "2025-12-01"].order_id.iloc[:3].tolist()
    feb = counted[counted.paid_at >= "2026-02-15"].iloc[0]
    mar = counted[counted.paid_at >= "2026-03-10"].iloc[0]
    wh = Warehouse("duckdb://")
    factory.load(wh, market)
    _flags(wh, early, paid)
    refresh(wh, exclude_brushing=True)
    assert refresh(wh, exclude_brushing=True).mode == "up_to_date"

    _flags(wh, [*early, feb.order_id], paid)
    report = refresh(wh, exclude_brushing=True)
    assert report.mode == "incremental" and report.since == feb.paid_at.date()
    assert "left out" in report.reason
    _equals_full(market, wh, [*early, feb.order_id])

    _flags(wh, [*early, mar.order_id], paid)
    report = refresh(wh, exclude_brushing=True)
    assert report.mode == "incremental" and report.since == feb.paid_at.date()
    _equals_full(market, wh, [*early, mar.order_id])
    assert refresh(wh, exclude_brushing=True).mode == "up_to_date"


def test_a_flag_on_an_order_of_last_months_session_recomputes_that_months_tree(market) -> None:  # type: ignore[no-untyped-def]
    """An order paid in March in a session that started in February belongs to February's
    driver tree: flagging it must recompute February's tree, though the day is in March."""
    market, late = factory.with_late_order(market, datetime(2026, 3, 2, 0, 30), seed=5)
    wh = Warehouse("duckdb://")
    factory.load(wh, market)
    _flags(wh, [])
    refresh(wh, exclude_brushing=True)
    _flags(wh, [late])
    report = refresh(wh, exclude_brushing=True)
    assert report.mode == "incremental" and report.since.month == 3
    _equals_full(market, wh, [late])


def test_turning_the_exclusion_off_puts_every_flagged_order_back(market) -> None:  # type: ignore[no-untyped-def]
    counted = _counted(market)
    flags = counted[counted.paid_at >= "2026-03-20"].order_id.iloc[:4].tolist()
    wh = Warehouse("duckdb://")
    factory.load(wh, market)
    _flags(wh, flags)
    refresh(wh, exclude_brushing=True)
    report = refresh(wh, exclude_brushing=False)
    assert report.mode == "incremental"
    _equals_full(market, wh, flags, exclude=False)
