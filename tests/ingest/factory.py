"""Messy input files as users really bring them, written by the tests (one place for all)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: Chinese back-office headers of an orders export (快手小店后台).
ORDERS_ZH = (
    "订单编号",
    "支付时间",
    "品牌ID",
    "商品ID",
    "达人ID",
    "买家ID",
    "流量来源",
    "购买数量",
    "实付金额",
    "订单状态",
)

BRANDS_ZH = ("品牌ID", "品牌名称", "类目", "品牌来源", "入驻时间")
SKUS_EN = ("sku_id", "brand_id", "category", "list_price", "special_supply", "launched_at")
ACCOUNTS_EN = ("account_id", "kind", "brand_id", "name", "category", "fans", "created_at")

BRAND_ROWS = (
    ("B1", "山野", "食品", "传统品牌", "2025-01-01 00:00:00"),
    ("B2", "织梦", "服饰", "工厂升级", "2025-02-01 00:00:00"),
)
SKU_ROWS = (
    ("S1", "B1", "食品", "39.90", "否", "2025-03-01"),
    ("S2", "B2", "服饰", "129.00", "是", "2025-03-01"),
)
ACCOUNT_ROWS = (
    ("A1", "品牌主号", "B1", "山野官方", "食品", "120000", "2025-01-05"),
    ("A2", "达人", "", "小李", "食品", "880000", "2024-06-01"),
    ("A3", "矩阵号", "B2", "织梦二号", "服饰", "3000", "2025-04-01"),
)


def order_row(
    order_id: str,
    *,
    paid_at: str = "2026-10-01 12:00:00",
    brand: str = "B1",
    sku: str = "S1",
    account: str = "A1",
    buyer: str = "U1",
    source: str = "推荐",
    quantity: str = "1",
    amount: str = "39.90",
    status: str = "已完成",
) -> tuple[str, ...]:
    """One orders row in ORDERS_ZH column order."""
    return (order_id, paid_at, brand, sku, account, buyer, source, quantity, amount, status)


def write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], encoding: str = "utf-8"
) -> Path:
    """A CSV in ``encoding`` (``utf-8-sig`` writes a BOM, ``gbk`` a GBK export)."""
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_xlsx(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """An XLSX workbook: one sheet, a title-free header row, cells of mixed types."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    wb.save(path)
    return path


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def write_parquet(path: Path, columns: dict[str, pa.Array]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def epoch_ms(wall_clock_shanghai: str) -> int:
    """Epoch milliseconds of a Shanghai wall-clock time (UTC+8, no daylight saving)."""
    dt = datetime.fromisoformat(wall_clock_shanghai + "+08:00")
    return int(dt.timestamp() * 1000)


def open_platform_order(
    oid: int,
    *,
    pay: str = "2026-10-01 12:00:00",
    total_fee: int = 3990,
    status: int = 70,
    cps_type: int = 1,
    products: Sequence[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One order as the 快手小店 open API returns it (MerchantOrderInfoView, camelCase, fen)."""
    return {
        "oid": oid,
        "payTime": epoch_ms(pay),
        "createTime": epoch_ms(pay) - 60_000,
        "updateTime": epoch_ms(pay) + 60_000,
        "buyerOpenId": "f19c6d9a0b",
        "buyerNick": "老铁",
        "sellerId": "B1",
        "sellerOpenId": "A1",
        "sellerNick": "山野官方",
        "expressFee": 0,
        "discountFee": 0,
        "totalFee": total_fee,
        "status": status,
        "sendTime": 0,
        "refundTime": 0,
        "num": 1,
        "cpsType": cps_type,
        "remark": "",
        "orderProductInfoList": list(
            products
            if products is not None
            else [{"oid": oid, "itemId": 9001, "skuId": "S1", "num": 1, "price": total_fee}]
        ),
        **extra,
    }


def write_many_orders(path: Path, n: int, *, negative_every: int = 0) -> Path:
    """A large orders CSV (Chinese headers) written by DuckDB: O0..O{n-1} on B1/S1/A1, valid
    except, with ``negative_every`` k, a negative amount on every order i with i % k == 0."""
    import duckdb

    header = ", ".join(f'{c} AS "{h}"' for c, h in zip(_MANY_COLUMNS, ORDERS_ZH, strict=True))
    con = duckdb.connect()
    try:
        con.execute(
            f"COPY (SELECT {header} FROM (SELECT 'O' || i AS o, '2026-10-01 12:00:00' AS p, "
            "'B1' AS b, 'S1' AS s, 'A1' AS a, 'U' || i AS u, '推荐' AS t, '1' AS q, "
            f"CASE WHEN {negative_every} > 0 AND i % {max(negative_every, 1)} = 0 THEN '-1' "
            "ELSE CAST(i % 500 AS VARCHAR) || '.25' END AS m, '已完成' AS st "
            f"FROM range({n}) r(i))) TO '{path}' (HEADER, DELIMITER ',')"
        )
    finally:
        con.close()
    return path


_MANY_COLUMNS = ("o", "p", "b", "s", "a", "u", "t", "q", "m", "st")
