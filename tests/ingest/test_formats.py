"""Each input format, with the messy details users' files really have."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from tests.ingest import factory
from tests.ingest.helpers import quarantined, reasons_by_line, rows
from windmaker.config import Settings
from windmaker.ingest import ingest_files, loader


@pytest.mark.parametrize("lookup", [False, True], ids=["enum", "lookup"])
def test_gbk_csv_with_chinese_headers_lands_with_codes_mapped(
    seeded: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lookup: bool
) -> None:
    """The same answer whichever way the foreign keys are checked: an ENUM of the referenced
    keys, or (for tables of over ``ENUM_MAX_KEYS`` rows, forced here) a lookup join, after
    which the rows are put back in line order."""
    if lookup:
        monkeypatch.setattr(loader, "ENUM_MAX_KEYS", 0)
    path = factory.write_csv(
        tmp_path / "订单导出.csv",
        factory.ORDERS_ZH,
        [
            factory.order_row("O1", source="推荐", status="已完成"),
            factory.order_row(
                "O2", source="磁力金牛", status="待发货", account="A2", amount="￥1,299.00"
            ),
            factory.order_row("O3", brand="B9"),
        ],
        encoding="gbk",
    )
    report = ingest_files(seeded, [path], progress=False)
    (f,) = report.files
    assert (f.table, f.encoding, f.rows, f.accepted, f.rejected) == ("orders", "gb18030", 3, 2, 1)
    assert rows(
        seeded, "SELECT order_id, traffic_source, status, amount FROM orders ORDER BY 1"
    ) == [
        ("O1", "recommend", "completed", Decimal("39.90")),
        ("O2", "paid", "paid", Decimal("1299.00")),
    ]
    (q,) = quarantined(f.quarantine)
    assert q["_line"] == "4" and q["订单编号"] == "O3" and q["品牌ID"] == "B9"
    assert q["_reason"] == "column brand_id: 'B9' is not a known brands.brand_id"
    # stored in the file's order
    assert [r[0] for r in rows(seeded, "SELECT order_id FROM orders")] == ["O1", "O2"]


def test_bom_csv_header_is_not_polluted_by_the_bom(workspace: Settings, tmp_path: Path) -> None:
    path = factory.write_csv(
        tmp_path / "brands.csv", factory.BRANDS_ZH, factory.BRAND_ROWS, encoding="utf-8-sig"
    )
    report = ingest_files(workspace, [path], progress=False)
    assert report.files[0].table == "brands" and report.accepted == 2
    assert rows(workspace, "SELECT brand_id, origin, joined_at FROM brands ORDER BY 1") == [
        ("B1", "traditional", datetime(2025, 1, 1)),
        ("B2", "factory_upgraded", datetime(2025, 2, 1)),
    ]


def test_xlsx_with_a_bad_date_and_a_negative_amount(seeded: Settings, tmp_path: Path) -> None:
    header = factory.ORDERS_ZH
    path = factory.write_xlsx(
        tmp_path / "orders.xlsx",
        header,
        [
            # A real date cell and a numeric amount cell, as Excel stores them.
            ("O1", datetime(2026, 10, 1, 12, 0), "B1", "S1", "A1", "U1", "推荐", 2, 79.8, "已完成"),
            ("O2", "2026-13-45", "B1", "S1", "A1", "U2", "推荐", 1, 39.9, "已完成"),
            ("O3", "2026-10-02 09:30:00", "B1", "S1", "A1", "U3", "关注", 1, -3, "已完成"),
            (
                "O4",
                "2026-10-02 10:00:00",
                "B2",
                "S2",
                "A3",
                12345678901234,
                "搜索",
                1,
                129,
                "已发货",
            ),
        ],
    )
    report = ingest_files(seeded, [path], progress=False)
    (f,) = report.files
    assert (f.fmt, f.rows, f.accepted, f.rejected) == ("xlsx", 4, 2, 2)
    assert rows(
        seeded, "SELECT order_id, paid_at, quantity, amount, buyer_id FROM orders ORDER BY 1"
    ) == [
        ("O1", datetime(2026, 10, 1, 12, 0), 2, Decimal("79.80"), "U1"),
        ("O4", datetime(2026, 10, 2, 10, 0), 1, Decimal("129.00"), "12345678901234"),
    ]
    assert reasons_by_line(f.quarantine) == {
        3: "column paid_at: '2026-13-45' is not a timestamp",
        # One reason per failing rule: a negative amount also breaks refund ≤ amount.
        4: "column amount: -3.00 is below the minimum 0; "
        "check refund_not_above_amount: refund_amount is larger than amount",
    }


def test_open_platform_json_money_in_fen(seeded: Settings, tmp_path: Path) -> None:
    orders = [
        factory.open_platform_order(1001, total_fee=3990, status=70),
        # A distribution order (cpsType 2) sold by influencer A2, closed.
        factory.open_platform_order(
            1002, total_fee=12345, status=80, cps_type=2, distributorId="A2"
        ),
        # Two product lines: 10000 fen shared 2:1 by price × num.
        factory.open_platform_order(
            1003,
            total_fee=10000,
            status=40,
            sendTime=factory.epoch_ms("2026-10-02 08:00:00"),
            products=[
                {"itemId": 1, "skuId": "S1", "num": 2, "price": 4000},
                {"itemId": 2, "skuId": "S2", "num": 1, "price": 4000},
            ],
        ),
        # Unpaid (待付款): not an order of the contract.
        factory.open_platform_order(1004, status=10),
    ]
    path = factory.write_jsonl(tmp_path / "kwai_orders.json", orders)
    report = ingest_files(seeded, [path], progress=False)
    (f,) = report.files
    assert (f.fmt, f.table, f.rows, f.accepted, f.rejected) == ("openplatform", "orders", 5, 4, 1)
    got = rows(
        seeded,
        "SELECT order_id, paid_at, brand_id, sku_id, account_id, buyer_id, traffic_source, quantity,"
        " amount, status, shipped_at FROM orders ORDER BY 1",
    )
    noon = datetime(2026, 10, 1, 12, 0)
    assert got == [
        (
            "1001",
            noon,
            "B1",
            "S1",
            "A1",
            "f19c6d9a0b",
            "other",
            1,
            Decimal("39.90"),
            "completed",
            None,
        ),
        (
            "1002",
            noon,
            "B1",
            "S1",
            "A2",
            "f19c6d9a0b",
            "other",
            1,
            Decimal("123.45"),
            "cancelled",
            None,
        ),
        (
            "1003-1",
            noon,
            "B1",
            "S1",
            "A1",
            "f19c6d9a0b",
            "other",
            2,
            Decimal("66.66"),
            "shipped",
            datetime(2026, 10, 2, 8),
        ),
        (
            "1003-2",
            noon,
            "B1",
            "S2",
            "A1",
            "f19c6d9a0b",
            "other",
            1,
            Decimal("33.34"),
            "shipped",
            datetime(2026, 10, 2, 8),
        ),
    ]
    (q,) = quarantined(f.quarantine)
    assert q["order_id"] == "1004"
    assert q["_reason"] == (
        "column status: '待付款' is not one of paid, shipped, completed, refunded, cancelled"
    )


def test_open_platform_api_response_document(seeded: Settings, tmp_path: Path) -> None:
    import json

    doc = {"result": {"orderInfoList": [factory.open_platform_order(2001, total_fee=100)]}}
    path = tmp_path / "page1.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    report = ingest_files(seeded, [path], progress=False)
    assert report.accepted == 1
    assert rows(seeded, "SELECT order_id, amount FROM orders") == [("2001", Decimal("1.00"))]


def test_mixed_timestamp_formats_become_shanghai_wall_clock(
    seeded: Settings, tmp_path: Path
) -> None:
    noon = "2026-10-01 12:00:00"
    stamps = {
        "O1": noon,
        "O2": "2026/10/01 12:00:00",
        "O3": "2026-10-01T04:00:00Z",
        "O4": "2026-10-01T12:00:00+08:00",
        "O5": str(factory.epoch_ms(noon) // 1000),
        "O6": str(factory.epoch_ms(noon)),
        "O7": "2026-10-01",
        "O8": "2026年10月01日 12:00:00",
        "O9": "yesterday",
    }
    path = factory.write_csv(
        tmp_path / "orders.csv",
        factory.ORDERS_ZH,
        [factory.order_row(o, paid_at=ts) for o, ts in stamps.items()],
    )
    report = ingest_files(seeded, [path], progress=False)
    got = dict(rows(seeded, "SELECT order_id, paid_at FROM orders"))
    expected = dict.fromkeys(["O1", "O2", "O3", "O4", "O5", "O6", "O8"], datetime(2026, 10, 1, 12))
    expected["O7"] = datetime(2026, 10, 1)
    assert got == expected
    assert reasons_by_line(report.files[0].quarantine) == {
        10: "column paid_at: 'yesterday' is not a timestamp"
    }


def test_money_in_fen_from_the_header_unit(seeded: Settings, tmp_path: Path) -> None:
    header = [h if h != "实付金额" else "实付金额(分)" for h in factory.ORDERS_ZH]
    path = factory.write_csv(
        tmp_path / "orders_fen.csv",
        header,
        [factory.order_row("O1", amount="12345"), factory.order_row("O2", amount="12.5")],
    )
    report = ingest_files(seeded, [path], progress=False)
    assert rows(seeded, "SELECT order_id, amount FROM orders") == [("O1", Decimal("123.45"))]
    assert reasons_by_line(report.files[0].quarantine) == {
        3: "column amount: '12.5' is not a whole number of fen"
    }


def test_money_unit_option_applies_to_undeclared_headers(seeded: Settings, tmp_path: Path) -> None:
    path = factory.write_csv(
        tmp_path / "orders.csv", factory.ORDERS_ZH, [factory.order_row("O1", amount="3990")]
    )
    ingest_files(seeded, [path], money_unit="fen", progress=False)
    assert rows(seeded, "SELECT amount FROM orders") == [(Decimal("39.90"),)]


def test_parquet_typed_columns_and_json_lines(workspace: Settings, tmp_path: Path) -> None:
    brands = factory.write_parquet(
        tmp_path / "brands.parquet",
        {
            "brand_id": pa.array(["B1", "B2", None]),
            "name": pa.array(["山野", "织梦", "无名"]),
            "category": pa.array(["食品", "服饰", "食品"]),
            "origin": pa.array(["traditional", "工厂升级", "traditional"]),
            "joined_at": pa.array(
                [datetime(2025, 1, 1), datetime(2025, 2, 1), datetime(2025, 3, 1)]
            ),
        },
    )
    skus = factory.write_jsonl(
        tmp_path / "skus.jsonl",
        [
            {
                "sku_id": "S1",
                "brand_id": "B1",
                "category": "食品",
                "list_price": 39.9,
                "launched_at": "2025-03-01",
            },
            {
                "sku_id": "S2",
                "brand_id": "B2",
                "category": "服饰",
                "list_price": "abc",
                "launched_at": "2025-03-01",
            },
        ],
    )
    report = ingest_files(workspace, [skus, brands], progress=False)
    assert [(f.table, f.fmt, f.accepted, f.rejected) for f in report.files] == [
        ("skus", "jsonl", 1, 1),
        ("brands", "parquet", 2, 1),
    ]
    assert reasons_by_line(report.files[1].quarantine) == {3: "column brand_id: missing (required)"}
    assert reasons_by_line(report.files[0].quarantine) == {
        2: "column list_price: 'abc' is not an amount of money"
    }
    assert rows(workspace, "SELECT sku_id, list_price, special_supply FROM skus") == [
        ("S1", Decimal("39.90"), False)
    ]
