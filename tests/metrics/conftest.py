"""Fixtures of the metric tests: the small market, loaded and refreshed once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from tests.metrics import factory
from windmaker.metrics.refresh import TABLES
from windmaker.services.refresh import refresh
from windmaker.warehouse import Warehouse


@pytest.fixture(scope="session")
def market() -> dict[str, pd.DataFrame]:
    return factory.market()


@pytest.fixture(scope="session")
def refreshed(market: dict[str, pd.DataFrame]) -> Iterator[Warehouse]:
    """An in-memory DuckDB warehouse holding the market and every metric table (full refresh)."""
    wh = Warehouse("duckdb://")
    factory.load(wh, market)
    refresh(wh, full=True)
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def tables(refreshed: Warehouse) -> dict[str, pd.DataFrame]:
    return {t: refreshed.to_arrow(refreshed.table(t)).to_pandas() for t in TABLES}
