"""Every table the simulator writes conforms to the data contract: names, types, codes, keys,
foreign keys and row rules; truth/ and ecosystem/ carry the documented columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from windmaker import contract
from windmaker.contract import CAPABILITIES, STAGES

EXPECTED_TYPES = {
    "string": pa.string(),
    "int": pa.int64(),
    "money": pa.decimal128(18, 2),
    "float": pa.float64(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "bool": pa.bool_(),
}


@pytest.mark.parametrize("tbl", contract.TABLES, ids=lambda t: t.name)
def test_columns_and_types_are_the_contract(market: Path, tbl: contract.Table) -> None:
    schema = pq.read_schema(market / f"{tbl.name}.parquet")
    assert schema.names == list(tbl.column_names)
    for col in tbl.columns:
        assert schema.field(col.name).type == EXPECTED_TYPES[col.dtype], col.name


@pytest.mark.parametrize("tbl", contract.TABLES, ids=lambda t: t.name)
def test_codes_ranges_keys_and_required_values(market: Path, tbl: contract.Table) -> None:
    df = pd.read_parquet(market / f"{tbl.name}.parquet")
    assert len(df) > 0
    assert not df.duplicated(list(tbl.key)).any(), "duplicate key"
    for col in tbl.columns:
        values = df[col.name]
        if col.required and col.default is None:
            assert values.notna().all(), f"{col.name} has nulls"
        if col.allowed:
            assert set(values.dropna()) <= set(col.allowed), col.name
        if col.minimum is not None:
            assert (values.dropna().astype(float) >= col.minimum).all(), col.name
        if col.maximum is not None:
            assert (values.dropna().astype(float) <= col.maximum).all(), col.name


@pytest.mark.parametrize(
    ("tbl", "column", "ref_table", "ref_column"),
    [(t.name, *ref) for t in contract.TABLES for ref in t.references],
)
def test_foreign_keys_hold(
    market: Path, tbl: str, column: str, ref_table: str, ref_column: str
) -> None:
    child = pd.read_parquet(market / f"{tbl}.parquet", columns=[column])[column].dropna()
    parent = pd.read_parquet(market / f"{ref_table}.parquet", columns=[ref_column])[ref_column]
    assert child.isin(set(parent)).all()


def test_order_row_rules(orders: pd.DataFrame, market: Path) -> None:
    o = orders
    assert (o["refund_amount"] <= o["amount"]).all()
    refunded = o["refunded_at"].notna()
    assert (o.loc[refunded, "refunded_at"] >= o.loc[refunded, "paid_at"]).all()
    shipped = o["shipped_at"].notna()
    assert (o.loc[shipped, "shipped_at"] >= o.loc[shipped, "paid_at"]).all()
    assert (
        o.loc[o["status"] == "refunded", "refund_amount"]
        == o.loc[o["status"] == "refunded", "amount"]
    ).all()
    assert o.loc[o["status"].isin(["shipped", "completed"]), "shipped_at"].notna().all()
    assert (o.loc[o["kind"] != "influencer", "commission"].astype(float) == 0).all()
    # every order lies in the window and after its brand joined
    brands = pd.read_parquet(market / "brands.parquet", columns=["brand_id", "joined_at"])
    joined = o[["brand_id", "paid_at"]].merge(brands, on="brand_id")
    assert (joined["paid_at"] >= joined["joined_at"]).all()
    assert o["paid_at"].min() >= pd.Timestamp("2026-05-01")
    assert o["paid_at"].max() < pd.Timestamp("2026-11-01")
    # nothing is sold before its SKU is listed or its account exists
    skus = pd.read_parquet(market / "skus.parquet", columns=["sku_id", "launched_at"])
    assert (o[["sku_id", "paid_at"]].merge(skus, on="sku_id").eval("paid_at >= launched_at")).all()
    accounts = pd.read_parquet(market / "accounts.parquet", columns=["account_id", "created_at"])
    by_account = o[["account_id", "paid_at"]].merge(accounts, on="account_id")
    assert (by_account["paid_at"] >= by_account["created_at"]).all()
    # an order in a live session is paid while the session is on, by the session's account
    sessions = pd.read_parquet(market / "live_sessions.parquet")
    live = o[o["session_id"].notna()].merge(sessions, on="session_id", suffixes=("", "_s"))
    assert len(live) > 0
    assert (live["paid_at"] >= live["started_at"]).all()
    assert (live["paid_at"] <= live["ended_at"]).all()
    assert (live["account_id"] == live["account_id_s"]).all()


def test_other_row_rules(market: Path) -> None:
    s = pd.read_parquet(market / "live_sessions.parquet")
    assert (s["ended_at"] >= s["started_at"]).all()
    assert s["dedicated_brand_id"].notna().any()
    ads = pd.read_parquet(market / "ad_spend.parquet")
    assert (ads["clicks"] <= ads["impressions"]).all()
    acc = pd.read_parquet(market / "accounts.parquet")
    assert acc.loc[acc["kind"] != "influencer", "brand_id"].notna().all()
    assert set(acc["kind"]) == set(contract.ACCOUNT_KINDS)
    follows = pd.read_parquet(market / "follows.parquet")
    o = pd.read_parquet(
        market / "orders.parquet", columns=["buyer_id", "account_id", "paid_at", "traffic_source"]
    )
    # a follow-page order comes from a buyer who followed the selling account before paying
    fo = o[o["traffic_source"] == "follow"].merge(
        follows, on=["buyer_id", "account_id"], how="left"
    )
    assert len(fo) > 0
    assert (fo["followed_at"] <= fo["paid_at"]).all()


TRUTH_COLUMNS = {
    "truth/brand_month.parquet": [
        "brand_id",
        "category",
        "month",
        "stage",
        "bottleneck",
        *(f"skill_{c}" for c in CAPABILITIES),
    ],
    "truth/ad_response.parquet": [
        "brand_id",
        "adstock_alpha",
        "saturation_k",
        "hill_shape",
        "beta",
    ],
    "truth/repeat_params.parquet": ["brand_id", "r", "alpha", "a", "b", "p", "q", "gamma"],
    "truth/hit_skus.parquet": ["sku_id", "brand_id", "is_hit", "hit_propensity"],
    "truth/factories.parquet": ["factory_id", "true_quality", "size"],
    "truth/brushing_rings.parquet": ["ring_id", "brand_id", "buyer_id", "order_id"],
    "truth/accounts.parquet": [
        "account_id",
        "brand_id",
        "kind",
        "true_quality",
        "true_trust",
        "is_best",
    ],
    "truth/influencers.parquet": [
        "account_id",
        "true_conversion",
        "true_trust",
        "price_band_low",
        "price_band_high",
        "categories",
    ],
    "truth/cooperations.parquet": ["brand_id", "account_id", "month", "fit", "gmv"],
    "truth/providers.parquet": ["provider_id", "true_skill"],
    "ecosystem/providers.parquet": [
        "provider_id",
        "name",
        "kind",
        "capabilities",
        "categories",
        "capacity",
        "team_size",
        "gmv_served_12m",
        "founded_at",
    ],
    "ecosystem/assignments.parquet": ["provider_id", "brand_id", "started_at", "ended_at"],
}


@pytest.mark.parametrize("name", sorted(TRUTH_COLUMNS))
def test_truth_and_ecosystem_files(market: Path, name: str) -> None:
    df = pd.read_parquet(market / name)
    assert len(df) > 0
    assert set(TRUTH_COLUMNS[name]) <= set(df.columns)


def test_truth_codes_and_references(market: Path) -> None:
    bm = pd.read_parquet(market / "truth" / "brand_month.parquet")
    assert set(bm["stage"]) <= set(STAGES)
    assert set(bm["bottleneck"]) <= set(CAPABILITIES)
    brands = set(pd.read_parquet(market / "brands.parquet")["brand_id"])
    assert set(bm["brand_id"]) == brands
    prov = pd.read_parquet(market / "ecosystem" / "providers.parquet")
    assert set(prov["kind"]) <= {
        "brand_operation",
        "influencer_agency",
        "traffic_agency",
        "supply_chain",
        "full_service",
    }
    for caps in prov["capabilities"]:
        assert set(caps.split(",")) <= set(CAPABILITIES)
    assign = pd.read_parquet(market / "ecosystem" / "assignments.parquet")
    assert set(assign["provider_id"]) <= set(prov["provider_id"])
    assert set(assign["brand_id"]) <= brands
    ended = assign["ended_at"].notna()
    assert (assign.loc[ended, "ended_at"] >= assign.loc[ended, "started_at"]).all()
    rings = pd.read_parquet(market / "truth" / "brushing_rings.parquet")
    o = pd.read_parquet(market / "orders.parquet", columns=["order_id", "brand_id", "buyer_id"])
    joined = rings.merge(o, on="order_id", suffixes=("", "_o"))
    assert len(joined) == len(rings)
    assert (joined["brand_id"] == joined["brand_id_o"]).all()
    assert (joined["buyer_id"] == joined["buyer_id_o"]).all()
