"""Batch semantics: duplicates, replacement, idempotency, refusal, dependency order, row checks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.ingest import factory
from tests.ingest.helpers import quarantined, reasons_by_line, rows
from windmaker.config import Settings
from windmaker.ingest import LOG_TABLE, IngestError, ingest_files


def _orders(path: Path, *order_rows: tuple[str, ...]) -> Path:
    return factory.write_csv(path, factory.ORDERS_ZH, order_rows)


def test_duplicate_keys_in_one_file_keep_the_first(seeded: Settings, tmp_path: Path) -> None:
    path = _orders(
        tmp_path / "orders.csv",
        factory.order_row("O1", amount="10.00"),
        factory.order_row("O2"),
        factory.order_row("O1", amount="99.00"),
        factory.order_row("O1", amount="77.00"),
    )
    report = ingest_files(seeded, [path], progress=False)
    assert (report.accepted, report.rejected) == (2, 2)
    assert rows(seeded, "SELECT order_id, amount FROM orders ORDER BY 1") == [
        ("O1", Decimal("10.00")),
        ("O2", Decimal("39.90")),
    ]
    q = quarantined(report.files[0].quarantine)
    assert [(r["_line"], r["实付金额"], r["_reason"]) for r in q] == [
        ("4", "99.00", "key order_id: 'O1' repeats line 2 (the first is kept)"),
        ("5", "77.00", "key order_id: 'O1' repeats line 2 (the first is kept)"),
    ]
    assert report.files[0].reasons == (("key order_id", 2),)


def test_duplicates_across_files_of_one_batch(seeded: Settings, tmp_path: Path) -> None:
    a = _orders(tmp_path / "a.csv", factory.order_row("O1", amount="10.00"))
    b = _orders(
        tmp_path / "b.csv", factory.order_row("O1", amount="20.00"), factory.order_row("O2")
    )
    report = ingest_files(seeded, [a, b], progress=False)
    assert rows(seeded, "SELECT order_id, amount FROM orders ORDER BY 1") == [
        ("O1", Decimal("10.00")),
        ("O2", Decimal("39.90")),
    ]
    assert reasons_by_line(report.files[1].quarantine) == {
        2: "key order_id: 'O1' repeats line 2 of a.csv (the first is kept)"
    }


def test_reimporting_the_same_file_changes_nothing(seeded: Settings, tmp_path: Path) -> None:
    path = _orders(
        tmp_path / "orders.csv", factory.order_row("O1"), factory.order_row("O2", brand="B9")
    )
    first = ingest_files(seeded, [path], progress=False)
    before = rows(seeded, "SELECT * FROM orders ORDER BY order_id")
    second = ingest_files(seeded, [path], progress=False)
    assert (first.accepted, first.rejected) == (1, 1)
    assert (second.accepted, second.rejected, second.exit_code) == (0, 0, 0)
    assert second.files[0].note is not None and "already imported" in second.files[0].note
    assert rows(seeded, "SELECT * FROM orders ORDER BY order_id") == before
    assert rows(seeded, f"SELECT count(*) FROM {LOG_TABLE} WHERE \"table\" = 'orders'") == [(1,)]


def test_a_later_version_of_a_row_replaces_the_old_one(seeded: Settings, tmp_path: Path) -> None:
    v1 = _orders(
        tmp_path / "day1.csv", factory.order_row("O1", status="已支付"), factory.order_row("O2")
    )
    v2 = factory.write_csv(
        tmp_path / "day2.csv",
        [*factory.ORDERS_ZH, "退款金额", "退款时间"],
        [(*factory.order_row("O1", status="退款成功"), "39.90", "2026-10-03 09:00:00")],
    )
    ingest_files(seeded, [v1], progress=False)
    report = ingest_files(seeded, [v2], progress=False)
    assert report.files[0].replaced == 1
    assert rows(seeded, "SELECT order_id, status, refund_amount FROM orders ORDER BY 1") == [
        ("O1", "refunded", Decimal("39.90")),
        ("O2", "completed", Decimal("0.00")),
    ]


def test_missing_required_column_refuses_the_batch(seeded: Settings, tmp_path: Path) -> None:
    good = _orders(tmp_path / "good.csv", factory.order_row("O1"))
    header = [h for h in factory.ORDERS_ZH if h != "实付金额"]
    bad = factory.write_csv(
        tmp_path / "bad.csv", header, [(*factory.order_row("O2")[:-2], "已完成")]
    )
    with pytest.raises(IngestError) as err:
        ingest_files(seeded, [good, bad], table="orders", progress=False)
    assert "bad.csv" in str(err.value) and "amount (实付金额)" in str(err.value)
    assert rows(seeded, "SELECT count(*) FROM orders") == [(0,)]


def test_empty_file_loads_nothing_and_says_so(seeded: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header_only = _orders(tmp_path / "header_only.csv")
    report = ingest_files(seeded, [empty, header_only], progress=False)
    assert [(f.note, f.rows, f.accepted, f.rejected) for f in report.files] == [
        ("empty file", 0, 0, 0),
        (None, 0, 0, 0),
    ]
    assert report.exit_code == 0
    assert rows(seeded, "SELECT count(*) FROM orders") == [(0,)]


def test_files_load_in_contract_dependency_order(workspace: Settings, tmp_path: Path) -> None:
    orders = _orders(tmp_path / "orders.csv", factory.order_row("O1"))
    accounts = factory.write_csv(tmp_path / "acc.csv", factory.ACCOUNTS_EN, factory.ACCOUNT_ROWS)
    skus = factory.write_csv(tmp_path / "skus.csv", factory.SKUS_EN, factory.SKU_ROWS)
    brands = factory.write_csv(tmp_path / "brands.csv", factory.BRANDS_ZH, factory.BRAND_ROWS)
    report = ingest_files(workspace, [orders, accounts, skus, brands], progress=False)
    assert report.rejected == 0
    assert [f.table for f in report.files] == ["orders", "accounts", "skus", "brands"]
    assert rows(workspace, "SELECT count(*) FROM orders") == [(1,)]


def test_row_checks_and_code_rules(seeded: Settings, tmp_path: Path) -> None:
    path = factory.write_csv(
        tmp_path / "orders.csv",
        [*factory.ORDERS_ZH, "退款金额", "退款时间"],
        [
            (*factory.order_row("O1"), "50.00", ""),
            (*factory.order_row("O2"), "1.00", "2026-09-30 00:00:00"),
            (*factory.order_row("O3", source="朋友圈", quantity="0"), "", ""),
        ],
    )
    report = ingest_files(seeded, [path], progress=False)
    assert report.accepted == 0
    assert reasons_by_line(report.files[0].quarantine) == {
        2: "check refund_not_above_amount: refund_amount is larger than amount",
        3: "check refund_after_payment: refunded_at is before paid_at",
        4: "column traffic_source: '朋友圈' is not one of recommend, paid, follow, search, other; "
        "column quantity: 0 is below the minimum 1",
    }


def test_account_check_and_unknown_table(workspace: Settings, tmp_path: Path) -> None:
    brands = factory.write_csv(tmp_path / "brands.csv", factory.BRANDS_ZH, factory.BRAND_ROWS)
    accounts = factory.write_csv(
        tmp_path / "acc.csv",
        factory.ACCOUNTS_EN,
        [("A9", "brand_main", "", "无主", "食品", "10", "2025-01-01")],
    )
    report = ingest_files(workspace, [brands, accounts], progress=False)
    assert reasons_by_line(report.files[1].quarantine) == {
        2: "check brand_account_has_brand: a brand account (brand_main / brand_matrix) needs brand_id"
    }
    with pytest.raises(IngestError, match="unknown table 'order'"):
        ingest_files(workspace, [brands], table="order", progress=False)


def test_unrecognised_headers_are_a_clear_error(workspace: Settings, tmp_path: Path) -> None:
    path = factory.write_csv(tmp_path / "x.csv", ["foo", "bar"], [("1", "2")])
    with pytest.raises(IngestError, match=r"x.csv: cannot tell which table.*pass --table"):
        ingest_files(workspace, [path], progress=False)


def test_a_ragged_csv_lands_its_complete_rows_beside_other_files(
    seeded: Settings, tmp_path: Path
) -> None:
    # A ragged file no longer refuses the batch: its complete row and the other file land, its
    # malformed rows are quarantined by line (line 3 too long, lines 4-5 too short).
    brands = factory.write_csv(
        tmp_path / "brands2.csv", factory.BRANDS_ZH, [("B7", "七", "食品", "传统", "2025-01-01")]
    )
    path = tmp_path / "ragged.csv"
    good = ",".join(factory.order_row("O1"))
    path.write_text(
        ",".join(factory.ORDERS_ZH) + "\n" + good + "\n" + good + ",extra,cells\n" * 3,
        encoding="utf-8",
    )
    report = ingest_files(seeded, [brands, path], table=None, progress=False)
    assert rows(seeded, "SELECT order_id FROM orders") == [("O1",)]
    assert rows(seeded, "SELECT count(*) FROM brands WHERE brand_id = 'B7'") == [(1,)]
    short = "row: has 3 of 10 values (商品ID onward missing)"
    assert reasons_by_line(report.files[1].quarantine) == {
        3: "row: has 12 values for 10 columns (the extra: 'extra', 'cells')",
        4: short,
        5: short,
    }


def test_line_numbers_hold_in_a_file_read_in_parallel(seeded: Settings, tmp_path: Path) -> None:
    # Several DuckDB row groups (122,880 rows each) read by two threads: the reported line of a
    # rejected row must still be its line in the file (header = line 1, order O{i} on i + 2).
    path = factory.write_many_orders(tmp_path / "many.csv", 300_000, negative_every=37_000)
    report = ingest_files(seeded, [path], progress=False)
    expected = {i + 2: f"O{i}" for i in range(0, 300_000, 37_000)}
    q = quarantined(report.files[0].quarantine)
    assert {int(r["_line"]): r["订单编号"] for r in q} == expected
    assert report.accepted == 300_000 - len(expected)
