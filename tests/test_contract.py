from pathlib import Path

import pytest

from windmaker import contract, contract_headers

DOC = Path(__file__).parents[1] / "docs" / "data-contract.md"


def test_docs_match_the_contract_module() -> None:
    """docs/data-contract.md is generated from the module; regenerate with `make docs`."""
    assert DOC.read_text(encoding="utf-8") == contract.render_markdown()


def test_tables_come_after_what_they_reference() -> None:
    seen: set[str] = set()
    for tbl in contract.TABLES:
        for _, ref_table, ref_col in tbl.references:
            if ref_table != tbl.name:
                assert ref_table in seen, f"{tbl.name} references {ref_table} before it is loaded"
            assert ref_col in contract.table(ref_table).column_names
        seen.add(tbl.name)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            [
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
            ],
            "orders",
        ),
        (
            [
                "order_id",
                "paid_at",
                "brand_id",
                "sku_id",
                "account_id",
                "buyer_id",
                "traffic_source",
                "quantity",
                "amount",
                "status",
            ],
            "orders",
        ),
        (["品牌ID", "品牌名称", "类目", "品牌来源", "入驻时间"], "brands"),
        (["review_id", "order_id", "created_at", "score"], "reviews"),
        (["买家ID", "账号ID", "关注时间"], "follows"),
        (["date", "brand_id", "campaign_id", "spend", "impressions", "clicks"], "ad_spend"),
        (["something", "else"], None),
    ],
)
def test_detect_table_from_headers(headers: list[str], expected: str | None) -> None:
    found = contract.detect_table(headers)
    assert (found.name if found else None) == expected


def test_header_units_and_normalisation() -> None:
    assert contract_headers.header_unit("实付金额(分)") == "fen"
    assert contract_headers.header_unit("实付金额（分）") == "fen"
    assert contract_headers.header_unit("amount") is None
    assert contract_headers.normalise_header(
        "\ufeff实付金额（分）"
    ) == contract_headers.normalise_header("实付金额")
    mapping = contract.map_headers(contract.ORDERS, ["订单编号", "订单号", "Paid At"])
    assert mapping == {"订单编号": "order_id", "Paid At": "paid_at"}


def test_unknown_table_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="orders"):
        contract.table("order")


def test_aliases_name_only_contract_columns() -> None:
    """Every alias belongs to a real table and column: a typo would drop its headers silently."""
    for table_name, columns in contract_headers.ALIASES.items():
        tbl = contract.table(table_name)
        assert set(columns) <= set(tbl.column_names), table_name
    assert contract_headers.ALIASES["orders"]["order_id"][:2] == ("订单编号", "订单号")
