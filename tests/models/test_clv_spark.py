"""Lifetime value on a cluster: the brands' fits through Spark's per-group map equal the fits
made in one process on DuckDB.

Known answer: the same simulated market (100 brands × 3 months) in a DuckDB warehouse and in a
local Spark session; ``fit_clv`` on each. On Spark every brand's own fits run in Spark's Python
workers (``Warehouse.map_groups``: ``groupBy(brand_id).applyInPandas``), the pooled fits of thin
categories on cells the engine aggregated, and the buyers are scored on the workers. The brand
table must agree brand for brand: fit level, model, parameters and log-likelihoods (to 1e-6,
the fits' own reproducibility), buyers and segment counts exactly, value per buyer to half a
cent (the cluster averages the stored per-buyer values, which are money to the cent); and so
must the buyers.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from windmaker import contract
from windmaker.models.clv import SEGMENTS, ClvConfig
from windmaker.results import CLV_BUYERS
from windmaker.services.models import fit_clv
from windmaker.warehouse import Warehouse

pytestmark = pytest.mark.spark
TABLES = (contract.ORDERS.name, contract.BRANDS.name)


def _duckdb(folder: Path, market: Path) -> Warehouse:
    wh = Warehouse(f"duckdb://{folder / 'wh.duckdb'}")
    for name in TABLES:
        wh.write(name, pd.read_parquet(market / f"{name}.parquet"))
    return wh


def test_clv_fitted_on_spark_workers_equals_one_process(
    spark_wh: Warehouse,
    small_simulated_market: Path,
    tmp_path: Path,
) -> None:
    for name in TABLES:
        spark_wh.backend.read_parquet(  # type: ignore[attr-defined]
            str(small_simulated_market / f"{name}.parquet"), table_name=name
        )
    local = _duckdb(tmp_path, small_simulated_market)
    buyers = local.execute(
        local.table(contract.ORDERS.name)
        .group_by("brand_id")
        .aggregate(n=ibis._.buyer_id.nunique())
    )
    # A threshold between the brands' sizes: some brands fit their own buyers, the rest pool.
    config = ClvConfig(min_buyers=int(np.median(buyers["n"])) // 2, min_repeat_buyers=20, workers=1)
    want = fit_clv(local, config).sort_values("brand_id").reset_index(drop=True)
    got = fit_clv(spark_wh, config).sort_values("brand_id").reset_index(drop=True)

    assert set(want["fit_level"]) >= {"brand", "category"} or set(want["fit_level"]) >= {
        "brand",
        "market",
    }
    assert list(got["brand_id"]) == list(want["brand_id"])
    for col in ("fit_level", "repeat_model", "spend_fit_level", "buyers", "repeat_buyers"):
        assert list(got[col].astype(str)) == list(want[col].astype(str)), col
    for col in ("r", "alpha", "a", "b", "s", "beta", "loglik", "gg_p", "gg_q", "gg_gamma"):
        np.testing.assert_allclose(
            got[col].astype(float), want[col].astype(float), rtol=1e-6, err_msg=col
        )
    for s in SEGMENTS:
        assert list(got[f"{s}_buyers"]) == list(want[f"{s}_buyers"]), s
    np.testing.assert_allclose(got["p_alive_mean"], want["p_alive_mean"], rtol=1e-6)
    # The cluster averages the stored per-buyer values, which are money to the cent: within
    # half a cent of the mean of the unrounded ones.
    np.testing.assert_allclose(
        got["value_per_buyer_365d"], want["value_per_buyer_365d"], rtol=0, atol=0.005
    )

    on_spark = spark_wh.execute(spark_wh.table(CLV_BUYERS)).sort_values(["brand_id", "buyer_id"])
    here = local.execute(local.table(CLV_BUYERS)).sort_values(["brand_id", "buyer_id"])
    assert len(on_spark) == len(here) > 0
    assert list(on_spark["segment"]) == list(here["segment"])
    np.testing.assert_allclose(on_spark["p_alive"], here["p_alive"], rtol=1e-6)
    local.close()
