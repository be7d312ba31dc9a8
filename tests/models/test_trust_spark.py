"""Parity: trust scores on PySpark equal DuckDB's on the same market.

The trust counts are one Ibis expression (``trust_counts``) run in the warehouse; the scores,
alerts and violations are computed from those small frames. On the simulator's small market,
with brushing flagged, the scores of every brand and account × month (with the orders and each
component's rate, reference and points) are equal on a local Spark session and on DuckDB (to
1e-9), and so are the alerts and the violations.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from windmaker import contract
from windmaker.models import trust
from windmaker.models.brushing import detect_in_warehouse
from windmaker.results import BRUSHING_ORDERS
from windmaker.services.trust import score_entities
from windmaker.warehouse import Warehouse

pytestmark = pytest.mark.spark

_TABLES = (contract.ORDERS, contract.REVIEWS, contract.BRANDS, contract.ACCOUNTS)


def _register(wh: Warehouse, files: dict[str, Path]) -> None:
    for name, path in files.items():
        wh.backend.read_parquet(str(path), table_name=name)


def _scores(wh: Warehouse, config: trust.TrustConfig) -> dict[str, pd.DataFrame]:
    """Scores of brands and accounts, alerts and violations, as the trust step makes them."""
    scores = score_entities(wh, config)
    accounts = wh.execute(wh.table(contract.ACCOUNTS.name).select("account_id", "brand_id"))
    alerts = trust.trust_alerts(scores, accounts, config)
    return {"scores": scores, "alerts": alerts, "violations": trust.brand_violations(alerts)}


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("entity", "entity_id", "brand_id", "account_id", "period") if c in df]
    return df.sort_values(keys).reset_index(drop=True)


def test_trust_scores_match_duckdb(
    spark_wh: Warehouse, small_simulated_market: Path, tmp_path: Path
) -> None:
    config = trust.load_config()
    files = {t.name: small_simulated_market / f"{t.name}.parquet" for t in _TABLES}
    duck = Warehouse.from_backend(ibis.duckdb.connect())
    _register(duck, files)
    report = detect_in_warehouse(
        duck.table(contract.ORDERS.name),
        duck.table(contract.REVIEWS.name),
        config.brushing,
        duck.execute,
    )
    flagged = report.flagged[["order_id"]].drop_duplicates()
    files[BRUSHING_ORDERS] = tmp_path / "flagged.parquet"
    pq.write_table(pa.Table.from_pandas(flagged, preserve_index=False), files[BRUSHING_ORDERS])
    duck.backend.read_parquet(str(files[BRUSHING_ORDERS]), table_name=BRUSHING_ORDERS)
    _register(spark_wh, files)

    want, got = _scores(duck, config), _scores(spark_wh, config)

    scores = want["scores"]
    # Every component has something to count, so an engine difference in any would show.
    for c in trust.COMPONENTS:
        assert (scores[c] > 0).sum() > 10, c
    assert (scores["status"] == trust.STATUS_OK).sum() > 50
    assert len(want["alerts"]) > 0
    for name in want:
        a, b = _sorted(got[name]), _sorted(want[name])
        assert list(a.columns) == list(b.columns), name
        assert len(a) == len(b) > 0, name
        pd.testing.assert_frame_equal(
            a, b, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-9, obj=name
        )
