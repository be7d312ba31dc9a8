"""Parity: the whole metric set on PySpark equals DuckDB on the same market.

Every metric table is built as one expression (``metric_expressions``) and run on a local Spark
session; the result is compared with the tables a full DuckDB refresh stored: money columns
exactly (to the cent), ratios within 1e-9, everything else equal.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.metrics import factory
from windmaker.metrics.brand_period import MONEY_COLUMNS
from windmaker.metrics.refresh import TABLES, metric_expressions
from windmaker.metrics.sources import Sources
from windmaker.warehouse import Warehouse

pytestmark = pytest.mark.spark
_MONEY = {*MONEY_COLUMNS, "live_gmv", "prev_live_gmv", "delta_gmv"}


def _load_as_parquet(wh: Warehouse, market: dict[str, pd.DataFrame], folder: Path) -> None:
    """Land the market as Parquet files and register them, as a cluster reads shared storage."""
    import pyarrow.parquet as pq

    for name, df in market.items():
        path = folder / f"{name}.parquet"
        pq.write_table(factory.to_arrow(name, df), path)
        wh.backend.read_parquet(str(path), table_name=name)


def test_every_metric_table_matches_duckdb(
    spark_wh: Warehouse, market, tables, tmp_path: Path
) -> None:
    _load_as_parquet(spark_wh, market, tmp_path)
    o = market["orders"]
    exprs = metric_expressions(
        Sources.of(spark_wh.table), o.paid_at.min().date(), o.paid_at.max().date()
    )
    assert set(exprs) == set(TABLES)
    for name, expr in exprs.items():
        got = factory.in_key_order(spark_wh.to_arrow(expr).to_pandas())
        want = factory.in_key_order(tables[name])
        assert list(got.columns) == list(want.columns), name
        assert len(got) == len(want) > 0, name
        for c in want.columns:
            g, w = got[c], want[c]
            if c in _MONEY:
                assert [None if pd.isna(x) else Decimal(x) for x in g] == [
                    None if pd.isna(x) else Decimal(x) for x in w
                ], (name, c)
            elif pd.api.types.is_float_dtype(w):
                np.testing.assert_allclose(
                    g.astype(float), w.astype(float), rtol=1e-9, atol=1e-9, err_msg=f"{name}.{c}"
                )
            else:
                assert [str(x) for x in g] == [str(x) for x in w], (name, c)


def test_period_boundary_is_the_stored_wall_clock_on_spark(spark_wh: Warehouse) -> None:
    """A Spark session in any zone must not move midnight: periods come from the stored value."""
    import ibis
    import pyarrow as pa

    from windmaker.metrics.periods import period_of

    ts = pa.array(
        [pd.Timestamp("2026-01-31 23:59:59"), pd.Timestamp("2026-02-01 00:00:00")],
        pa.timestamp("us"),
    )
    t = ibis.memtable(pa.table({"ts": ts}))
    got = spark_wh.to_arrow(t.select(m=period_of(t.ts, "month"))).to_pandas()
    assert list(got.m) == [date(2026, 1, 1), date(2026, 2, 1)]
