"""SKU × month outcomes of factory goods (``metrics.factories.sku_months``) against a plain pandas
computation over the same orders and reviews (the reference answer), with and without brushing
orders left out."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from windmaker.metrics.factories import COLUMNS, sku_months
from windmaker.warehouse import Warehouse

COUNTS = ["orders", "units", "refunded", "reviews", "low_reviews", "quality_complaints"]


def reference(market: dict[str, pd.DataFrame], flagged: set[str]) -> pd.DataFrame:
    o = market["orders"]
    o = o[(o["status"] != "cancelled") & ~o["order_id"].isin(flagged)].copy()
    o["period"] = pd.to_datetime(o["paid_at"]).dt.to_period("M").dt.start_time.dt.date
    o["net"] = (o["amount"] - o["refund_amount"].fillna(0)).astype(float)
    o["refunded"] = (o["status"] == "refunded") | (o["refund_amount"].fillna(0).astype(float) > 0)
    sold = o.groupby(["sku_id", "period"]).agg(
        orders=("order_id", "size"),
        units=("quantity", "sum"),
        net_gmv=("net", "sum"),
        refunded=("refunded", "sum"),
    )
    r = market["reviews"].merge(o[["order_id", "sku_id"]], on="order_id")
    r["period"] = pd.to_datetime(r["created_at"]).dt.to_period("M").dt.start_time.dt.date
    r["low"] = r["score"] <= 2
    r["quality"] = r["complaint"] == "quality"
    told = r.groupby(["sku_id", "period"]).agg(
        reviews=("review_id", "size"),
        low_reviews=("low", "sum"),
        quality_complaints=("quality", "sum"),
    )
    out = sold.join(told, how="outer").fillna(0)
    return out.astype({c: "int64" for c in COUNTS})


@pytest.mark.parametrize("brushing", [False, True])
def test_sku_months_match_the_reference(
    market: dict[str, pd.DataFrame], refreshed: Warehouse, brushing: bool
) -> None:
    flagged = set(market["orders"]["order_id"].iloc[::17]) if brushing else set()
    flags = ibis.memtable({"order_id": sorted(flagged) or ["none"]})
    expr = sku_months(
        refreshed.table("orders"),
        refreshed.table("skus"),
        refreshed.table("reviews"),
        flagged=flags if brushing else None,
    )
    got = refreshed.execute(expr)
    assert list(got.columns) == list(COLUMNS)
    got["period"] = pd.to_datetime(got["period"]).dt.date
    got = got.set_index(["sku_id", "period"]).sort_index()
    want = reference(market, flagged).sort_index()
    assert got.index.equals(want.index)
    for col in COUNTS:
        assert (got[col].astype("int64") == want[col]).all(), col
    assert got["net_gmv"].astype(float).to_numpy() == pytest.approx(want["net_gmv"].to_numpy())
    skus = market["skus"].set_index("sku_id")
    brands = got.index.get_level_values("sku_id").map(skus["brand_id"])
    assert (got["brand_id"].to_numpy() == brands.to_numpy()).all()
