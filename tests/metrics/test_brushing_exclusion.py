"""Orders flagged as brushing are left out of every metric when the workspace says so, and a
change in the flagged set makes the next refresh a full one."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pyarrow as pa

from tests.metrics import factory
from windmaker.metrics.refresh import BRUSHING_ORDERS
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


def test_a_new_flag_forces_a_full_refresh(market) -> None:  # type: ignore[no-untyped-def]
    wh = Warehouse("duckdb://")
    factory.load(wh, market)
    wh.write(
        BRUSHING_ORDERS,
        pa.table({"order_id": pa.array([market["orders"].order_id.iloc[0]], pa.string())}),
    )
    refresh(wh, exclude_brushing=True)
    assert refresh(wh, exclude_brushing=True).mode == "up_to_date"
    wh.insert(
        BRUSHING_ORDERS,
        pa.table({"order_id": pa.array([market["orders"].order_id.iloc[1]], pa.string())}),
    )
    report = refresh(wh, exclude_brushing=True)
    assert report.mode == "full" and BRUSHING_ORDERS in report.reason
