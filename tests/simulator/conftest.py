"""A small simulated market shared by the simulator tests (built once per session)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from windmaker.simulator import small_market


@pytest.fixture(scope="session")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``small_market``: 60 brands × 6 months in two categories, seed 0 (another seed with
    WINDMAKER_SIM_TEST_SEED, to check the planted structure does not hang on one draw)."""
    seed = int(os.environ.get("WINDMAKER_SIM_TEST_SEED", "0"))
    return small_market(tmp_path_factory.mktemp("market"), seed=seed)


@pytest.fixture(scope="session")
def orders(market: Path) -> pd.DataFrame:
    """Orders joined with the selling account's kind; net = amount − refund (not cancelled)."""
    o = pd.read_parquet(market / "orders.parquet")
    kinds = pd.read_parquet(market / "accounts.parquet", columns=["account_id", "kind"])
    o = o.merge(kinds, on="account_id", how="left")
    o["amount"] = o["amount"].astype(float)
    o["refund_amount"] = o["refund_amount"].astype(float)
    o["net"] = (o["amount"] - o["refund_amount"]).where(o["status"] != "cancelled", 0.0)
    o["month"] = o["paid_at"].dt.to_period("M").dt.to_timestamp()
    return o


@pytest.fixture(scope="session")
def brand_month(market: Path) -> pd.DataFrame:
    t = pd.read_parquet(market / "truth" / "brand_month.parquet")
    t["month"] = pd.to_datetime(t["month"])
    return t
