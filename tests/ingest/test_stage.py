"""The two ways a file is staged give one answer, and a failed import leaves nothing behind.

A Parquet file (and every reader that converts to Parquet) is staged as a view: only its
rejected rows are written, the rest are read again from the file when asked. A CSV file's stage
is a table of every row. The first file of a batch is staged before the batch's transaction
opens. Known answers here are the contract's rules applied by hand to six rows.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from tests.ingest import factory
from tests.ingest.helpers import quarantined, rows
from windmaker.config import Settings
from windmaker.ingest import IngestError, csvfile, ingest_files, loader
from windmaker.workspace import open_warehouse

ROWS = (
    factory.order_row("O1", amount="10.00"),
    factory.order_row("O2", brand="B9"),
    factory.order_row("O3", quantity="0"),
    factory.order_row("O1", amount="99.00"),
    factory.order_row("O4"),
    factory.order_row("O5", amount="5.50"),
)


def _write(fmt: str, path: Path) -> Path:
    if fmt == "csv":
        return factory.write_csv(path.with_suffix(".csv"), factory.ORDERS_ZH, ROWS)
    columns = {h: pa.array([r[i] for r in ROWS]) for i, h in enumerate(factory.ORDERS_ZH)}
    return factory.write_parquet(path.with_suffix(".parquet"), columns)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_both_stages_give_the_rules_answer(seeded: Settings, tmp_path: Path, fmt: str) -> None:
    old = factory.write_csv(
        tmp_path / "old.csv", factory.ORDERS_ZH, [factory.order_row("O4", amount="1.00")]
    )
    ingest_files(seeded, [old], progress=False)

    report = ingest_files(seeded, [_write(fmt, tmp_path / "orders")], progress=False)

    (f,) = report.files
    assert (f.fmt, f.rows, f.accepted, f.rejected, f.replaced) == (fmt, 6, 3, 3, 1)
    assert rows(seeded, "SELECT order_id, amount FROM orders ORDER BY 1") == [
        ("O1", Decimal("10.00")),
        ("O4", Decimal("39.90")),
        ("O5", Decimal("5.50")),
    ]
    # a CSV's lines count its header; a Parquet file's rows start at 1
    first = 2 if fmt == "csv" else 1
    assert [(r["_line"], r["订单编号"], r["_reason"]) for r in quarantined(f.quarantine)] == [
        (str(first + 1), "O2", "column brand_id: 'B9' is not a known brands.brand_id"),
        (str(first + 2), "O3", "column quantity: 0 is below the minimum 1"),
        (str(first + 3), "O1", f"key order_id: 'O1' repeats line {first} (the first is kept)"),
    ]
    assert dict(f.reasons) == {"column brand_id": 1, "column quantity": 1, "key order_id": 1}


def _leftovers(con: Any) -> list[str]:
    """The import's working objects still in the connection's catalog."""
    found = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '\\_\\_ingest%' ESCAPE '\\' "
        "UNION ALL SELECT view_name FROM duckdb_views() WHERE view_name LIKE '\\_\\_ingest%' "
        "ESCAPE '\\' UNION ALL SELECT type_name FROM duckdb_types() "
        "WHERE type_name LIKE '\\_\\_ingest%' ESCAPE '\\'"
    ).fetchall()
    return sorted(str(r[0]) for r in found)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_batch_stopped_after_staging_leaves_nothing(
    seeded: Settings, tmp_path: Path, fmt: str
) -> None:
    """Stopped as the first file is staged (as the write-scope check stops it), on the same
    connection: no row, no stage, no rejected rows, no key type; the next import runs."""
    path = _write(fmt, tmp_path / "orders")

    def refuse(event: str, _path: Path) -> None:
        if event == "staged":
            raise RuntimeError("refused")

    with open_warehouse(seeded) as wh:
        with pytest.raises(IngestError, match="the import stopped"):
            ingest_files(wh, [path], progress=False, on_event=refuse)
        assert _leftovers(wh.duckdb) == []
        assert wh.duckdb.execute("SELECT count(*) FROM orders").fetchone() == (0,)
        report = ingest_files(wh, [path], progress=False)
        assert (report.accepted, report.rejected) == (3, 3)
        assert _leftovers(wh.duckdb) == []


def test_a_failed_scan_drops_the_key_types_it_made(
    seeded: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first file is staged outside the transaction, so the ENUM types of its foreign keys
    would outlive a scan that fails; they are dropped."""
    real = loader.staging_sql

    def failing(*args: Any, **kwargs: Any) -> str:
        return f"SELECT *, error('the scan failed') AS boom FROM ({real(*args, **kwargs)})"

    monkeypatch.setattr(loader, "staging_sql", failing)
    with open_warehouse(seeded) as wh:
        with pytest.raises(IngestError, match="the import stopped"):
            ingest_files(wh, [_write("csv", tmp_path / "orders")], progress=False)
        assert _leftovers(wh.duckdb) == []


#: Rows of the CSV larger than the memory limit: about 120 MB, against a 100 MB limit.
BIG_ROWS = 1_500_000
#: Every this-many-th row names an unknown brand, and is quarantined.
BAD_EVERY = 997
#: The row whose key the last row repeats (a valid one).
REPEATED = 1_000_000


@pytest.mark.parametrize(
    ("after_brands", "line_pass", "looked_up"),
    [(False, False, False), (True, False, False), (False, True, False), (False, False, True)],
    ids=["alone", "second-in-batch", "alone-through-the-line-pass", "alone-keys-looked-up"],
)
def test_a_csv_larger_than_the_memory_limit_loads_whole(
    seeded: Settings,
    tmp_path: Path,
    after_brands: bool,
    line_pass: bool,
    looked_up: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CSV larger than the warehouse's ``memory_limit`` is streamed: the copy, its stage and
    the insert all stay under the limit, and every row lands or is quarantined. Alone, the file
    is staged before the transaction; after a brands file of the same batch, inside it. The file
    is plain, so DuckDB reads it; once more it takes the line pass (a normalised copy), and once
    its keys are checked by joins, as keys into a large table are (a join need not keep the
    rows' order, so the file is read into a table, its lines numbered, first). The last
    row repeats the key of row :data:`REPEATED`: the quarantine reads its original values from
    the file again, a million lines on. Known answer: the generator's own counts and sums,
    computed by SQL over the same range."""
    path = tmp_path / "big_orders.csv"
    last = BIG_ROWS - 1
    generator = f"""
        SELECT i, 'O' || CASE WHEN i = {last} THEN {REPEATED} ELSE i END AS "订单编号",
               strftime(TIMESTAMP '2026-01-01' + INTERVAL (i % 20000000) SECOND,
                        '%Y-%m-%d %H:%M:%S') AS "支付时间",
               CASE WHEN i % {BAD_EVERY} = 5 THEN 'B9' ELSE 'B' || (1 + i % 2) END AS "品牌ID",
               'S' || (1 + i % 2) AS "商品ID", 'A' || (1 + i % 3) AS "达人ID",
               'U' || (100000000 + i % 400000) AS "买家ID", '推荐' AS "流量来源",
               1 + i % 3 AS "购买数量",
               CAST(1 + (i * 7919) % 50000 / 100 AS DECIMAL(18, 2)) AS "实付金额",
               '已完成' AS "订单状态"
        FROM range({BIG_ROWS}) t(i)"""
    gen = duckdb.connect()
    gen.execute(f"COPY (SELECT * EXCLUDE (i) FROM ({generator})) TO '{path}' (HEADER)")
    limit_bytes = 100 * 10**6
    assert path.stat().st_size > limit_bytes
    expected_ok, expected_sum = gen.execute(
        f'SELECT count(*), sum("实付金额") FROM ({generator}) '
        f"WHERE \"品牌ID\" <> 'B9' AND i <> {last}"
    ).fetchone()
    (last_amount,) = gen.execute(
        f'SELECT CAST("实付金额" AS VARCHAR) FROM ({generator}) WHERE i = {last}'
    ).fetchone()

    if line_pass:  # as a GBK file, or any that is not plain, is read
        monkeypatch.setattr(csvfile, "plain_layout", lambda *_: None)
    if looked_up:  # as keys into a large table are checked: a join, which may reorder rows
        monkeypatch.setattr(loader, "ENUM_MAX_KEYS", 0)
    with open_warehouse(seeded.model_copy(update={"memory_limit": "100MB"})) as wh:
        brands = factory.write_csv(tmp_path / "brands.csv", factory.BRANDS_ZH, factory.BRAND_ROWS)
        report = ingest_files(wh, [brands, path] if after_brands else [path], progress=False)
        stored = wh.duckdb.execute("SELECT count(*), sum(amount) FROM orders").fetchone()

    f = report.files[-1]
    assert (f.table, f.rows, f.accepted, f.rejected) == (
        "orders",
        BIG_ROWS,
        expected_ok,
        BIG_ROWS - expected_ok,
    )
    assert stored == (expected_ok, expected_sum)
    # row i of the generator is on line i + 2 (the header is line 1)
    kept = quarantined(f.quarantine)
    lines = sorted(int(r["_line"]) for r in kept)
    assert lines == [i + 2 for i in range(BIG_ROWS) if i % BAD_EVERY == 5] + [BIG_ROWS + 1]
    (repeat,) = [r for r in kept if r["_reason"].startswith("key")]
    assert (
        repeat["_reason"]
        == f"key order_id: 'O{REPEATED}' repeats line {REPEATED + 2} (the first is kept)"
    )
    assert (repeat["订单编号"], repeat["实付金额"]) == (f"O{REPEATED}", last_amount)
