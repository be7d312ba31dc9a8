"""Files that lose nothing: malformed rows go to quarantine with their line, the rest lands.

Every expected line and reason below is the known answer of a file written by hand: the line a
text editor shows for the row (header = line 1), and the problem planted in it. Each test also
checks that no engine text (DuckDB's, openpyxl's, a traceback) reaches what the user reads.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from tests.ingest import factory
from tests.ingest.helpers import quarantined, reasons_by_line, rows
from windmaker.cli.main import app
from windmaker.config import Settings
from windmaker.ingest import IngestError, IngestReport, csvfile, ingest_files

#: Words that only an engine's own error message would put in front of a user.
ENGINE_TEXT = (
    "Error when sniffing",
    "duckdb",
    "DuckDB",
    "Binder Error",
    "Conversion Error",
    "Invalid Input Error",
    "Traceback",
    "openpyxl",
    "zipfile",
    "pyarrow",
    "_csv.Error",
)

HEADER = ",".join(factory.ORDERS_ZH)
CUT_REASON = (
    "row: has 2 of 10 values (品牌ID onward missing); "
    "the file ends inside this row (a cut-off download?)"
)


@pytest.fixture(autouse=True, params=[csvfile._BUFFER_LINES, 2], ids=["blocks", "2-line-blocks"])
def _blocks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test again with the CSV read in blocks of two lines: the common lines of a block
    are copied in one go, any other block line by line, so here malformed rows and quoted
    line breaks fall on every side of a block's edge and the answers must not move."""
    monkeypatch.setattr(csvfile, "_BUFFER_LINES", request.param)


def _line(order_id: str, **kw: str) -> str:
    return ",".join(factory.order_row(order_id, **kw))


def _messages(report: IngestReport) -> str:
    """Everything a user reads about a batch: notes, reason summaries, quarantine rows."""
    parts: list[str] = []
    for f in report.files:
        parts += [f.note or "", repr(f.reasons)]
        if f.quarantine is not None:
            parts += [json.dumps(r, ensure_ascii=False) for r in quarantined(f.quarantine)]
    return "\n".join(parts)


def assert_plain_words(text: str, *folders: Path) -> None:
    """No engine text, and no server folder, in ``text``."""
    for marker in ENGINE_TEXT:
        assert marker not in text, f"{marker!r} reached the user: {text}"
    for folder in folders:
        assert str(folder) not in text, f"the folder {folder} reached the user: {text}"


def _landed(settings: Settings) -> list[tuple[object, ...]]:
    return rows(settings, "SELECT order_id, buyer_id, amount, status FROM orders ORDER BY order_id")


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_truncated_last_row_lands_every_complete_row(
    seeded: Settings, tmp_path: Path, encoding: str
) -> None:
    """The bar: a download cut off inside its last row lands all its complete rows.

    Known answer: rows O1..O5 are whole (lines 2-6) with amounts 10.01..50.05; line 7 was cut
    after its second value, with no line ending.
    """
    body = [_line(f"O{i}", buyer=f"U{i}", amount=f"{i}0.0{i}") for i in range(1, 6)]
    text = HEADER + "\r\n" + "\r\n".join(body) + "\r\nO6,2026-10-01 12:0"
    path = tmp_path / "订单_cut.csv"
    path.write_bytes(text.encode(encoding))
    report = ingest_files(seeded, [path], progress=False)
    (f,) = report.files
    assert (f.table, f.rows, f.accepted, f.rejected) == ("orders", 6, 5, 1)
    assert _landed(seeded) == [
        (f"O{i}", f"U{i}", Decimal(f"{i}0.0{i}"), "completed") for i in range(1, 6)
    ]
    (q,) = quarantined(f.quarantine)
    assert (q["_file"], q["_line"], q["_reason"]) == ("订单_cut.csv", "7", CUT_REASON)
    # The values the cut row has are kept, under the file's own headers.
    assert (q["订单编号"], q["支付时间"], q["品牌ID"]) == ("O6", "2026-10-01 12:0", "")
    assert report.exit_code == 3
    assert_plain_words(_messages(report), tmp_path)


def test_gbk_file_cut_inside_a_chinese_character(seeded: Settings, tmp_path: Path) -> None:
    """A GBK download cut between the two bytes of 已 (0xD2 0xD1): the last row holds half a
    character. Known answer: lines 2-3 land, line 4 is quarantined for its broken bytes."""
    text = HEADER + "\n" + _line("O1") + "\n" + _line("O2") + "\n"
    data = text.encode("gbk") + _line("O3").encode("gbk")[:-5]  # ends after 0xD2 of 已
    assert data.endswith(b"\xd2")
    path = tmp_path / "cut_gbk.csv"
    path.write_bytes(data)
    report = ingest_files(seeded, [path], progress=False)
    (f,) = report.files
    assert (f.encoding, f.accepted, f.rejected) == ("gb18030", 2, 1)
    assert [r[0] for r in _landed(seeded)] == ["O1", "O2"]
    assert reasons_by_line(f.quarantine) == {
        4: "row: holds bytes that are not valid gb18030 text "
        "(the file may be cut off there, or saved in another encoding)"
    }
    assert_plain_words(_messages(report), tmp_path)


def test_short_and_long_rows_in_the_middle(seeded: Settings, tmp_path: Path) -> None:
    """Known answer: line 3 lost its last two cells, line 5 has two extra ones, line 7 has a
    trailing blank cell (nothing lost: it lands), line 8 is blank (no record); the rest land."""
    lines = [
        HEADER,
        _line("O1", amount="11.00"),  # 2
        ",".join(factory.order_row("O2")[:8]),  # 3: 8 of 10 values
        _line("O3", amount="33.00"),  # 4
        _line("O4") + ",x,y",  # 5: 12 values
        _line("O5", amount="55.00"),  # 6
        _line("O6", amount="66.00") + ",",  # 7: a blank 11th cell
        "",  # 8
        _line("O7", amount="77.00"),  # 9
    ]
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest_files(seeded, [path], progress=False)
    (f,) = report.files
    assert (f.rows, f.accepted, f.rejected) == (7, 5, 2)
    assert rows(seeded, "SELECT order_id, amount FROM orders ORDER BY 1") == [
        ("O1", Decimal("11.00")),
        ("O3", Decimal("33.00")),
        ("O5", Decimal("55.00")),
        ("O6", Decimal("66.00")),
        ("O7", Decimal("77.00")),
    ]
    assert reasons_by_line(f.quarantine) == {
        3: "row: has 8 of 10 values (实付金额 onward missing)",
        5: "row: has 12 values for 10 columns (the extra: 'x', 'y')",
    }
    assert f.reasons == (("row", 2),)
    assert_plain_words(_messages(report), tmp_path)


def test_bad_quoting_costs_one_row(seeded: Settings, tmp_path: Path) -> None:
    """Known answer: line 3 has text after a closing quote; line 5 opens a quote it never
    closes (it would swallow every later line); line 7 is a legitimate quoted value with a
    comma. Lines 2, 4, 6, 7, 8 land."""
    o2 = factory.order_row("O2")
    o4 = factory.order_row("O4")
    lines = [
        HEADER,
        _line("O1"),  # 2
        ",".join([*o2[:2], '"B1"x', *o2[3:]]),  # 3
        _line("O3"),  # 4
        ",".join([*o4[:5], '"U4', *o4[6:]]),  # 5
        _line("O5"),  # 6
        _line("O6", amount='"1,299.00"'),  # 7
        _line("O7"),  # 8
    ]
    path = tmp_path / "quotes.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest_files(seeded, [path], progress=False)
    (f,) = report.files
    assert (f.rows, f.accepted, f.rejected) == (7, 5, 2)
    assert rows(seeded, "SELECT order_id, amount FROM orders ORDER BY 1") == [
        ("O1", Decimal("39.90")),
        ("O3", Decimal("39.90")),
        ("O5", Decimal("39.90")),
        ("O6", Decimal("1299.00")),
        ("O7", Decimal("39.90")),
    ]
    assert reasons_by_line(f.quarantine) == {
        3: "row: cannot be read as CSV (column 品牌ID): a quoted value is followed by text "
        "before the next delimiter (bad quoting)",
        5: "row: cannot be read as CSV (column 买家ID): a quoted value opened on this line is "
        "not closed on it",
    }
    assert_plain_words(_messages(report), tmp_path)


def test_quoted_line_breaks_keep_line_numbers_exact(workspace: Settings, tmp_path: Path) -> None:
    """A brand name holding a line break spans lines 2-3; the bad row after it is on line 5 of
    the file (not record 4), and the unclosed quote at the very end is line 6."""
    text = (
        ",".join(factory.BRANDS_ZH)
        + "\n"
        + 'B1,"山野\n旗舰",食品,传统品牌,2025-01-01\n'  # 2-3
        + "B2,织梦,服饰,工厂升级,2025-02-01\n"  # 4
        + "B3,短\n"  # 5
        + 'B4,"未完,食品,传统品牌,2025-03-01'  # 6: the file ends inside the quote
    )
    path = tmp_path / "brands.csv"
    path.write_text(text, encoding="utf-8")
    report = ingest_files(workspace, [path], progress=False)
    (f,) = report.files
    assert rows(workspace, "SELECT brand_id, name FROM brands ORDER BY 1") == [
        ("B1", "山野\n旗舰"),
        ("B2", "织梦"),
    ]
    assert reasons_by_line(f.quarantine) == {
        5: "row: has 2 of 5 values (类目 onward missing)",
        6: "row: cannot be read as CSV (column 品牌名称): the file ends inside a quoted "
        "value of this row (a cut-off download?)",
    }


def test_money_with_fractions_of_a_fen_is_refused_not_rounded(
    seeded: Settings, tmp_path: Path
) -> None:
    """Known answer: 12.345 and ¥1,234.567 have a third decimal that is not zero; 12.3, 12.30,
    12.3400 and 1.2e1 are exact to the cent and land as 12.30, 12.30, 12.34 and 12.00."""
    amounts = {
        "O1": "12.345",
        "O2": "12.3",
        "O3": "12.30",
        "O4": "￥1,234.567",
        "O5": "12.3400",
        "O6": "1.2e1",
        "O7": "1.2345e1",
    }
    header = [*factory.ORDERS_ZH, "退款金额"]
    path = factory.write_csv(
        tmp_path / "money.csv",
        header,
        [
            *[(*factory.order_row(o, amount=a), "") for o, a in amounts.items()],
            (*factory.order_row("O8", amount="20.00"), "0.001"),
        ],
    )
    report = ingest_files(seeded, [path], progress=False)
    (f,) = report.files
    assert rows(seeded, "SELECT order_id, amount FROM orders ORDER BY 1") == [
        ("O2", Decimal("12.30")),
        ("O3", Decimal("12.30")),
        ("O5", Decimal("12.34")),
        ("O6", Decimal("12.00")),
    ]
    tail = " has more than 2 decimals: a fraction of a fen is not rounded"
    assert reasons_by_line(f.quarantine) == {
        2: "column amount: '12.345'" + tail,
        5: "column amount: '￥1,234.567'" + tail,
        8: "column amount: '1.2345e1'" + tail,
        9: "column refund_amount: '0.001'" + tail,
    }
    assert_plain_words(_messages(report), tmp_path)


def test_fen_with_a_fraction_is_refused(seeded: Settings, tmp_path: Path) -> None:
    """Known answer: 1234 fen is ¥12.34; 1234.5 fen and 0.1 fen are not whole fen; 1234.0 is."""
    header = [h if h != "实付金额" else "实付金额(分)" for h in factory.ORDERS_ZH]
    path = factory.write_csv(
        tmp_path / "fen.csv",
        header,
        [
            factory.order_row("O1", amount="1234"),
            factory.order_row("O2", amount="1234.5"),
            factory.order_row("O3", amount="0.1"),
            factory.order_row("O4", amount="1234.0"),
            factory.order_row("O5", amount="99999999999999999999"),
        ],
    )
    report = ingest_files(seeded, [path], progress=False)
    assert rows(seeded, "SELECT order_id, amount FROM orders ORDER BY 1") == [
        ("O1", Decimal("12.34")),
        ("O4", Decimal("12.34")),
    ]
    assert reasons_by_line(report.files[0].quarantine) == {
        3: "column amount: '1234.5' is not a whole number of fen",
        4: "column amount: '0.1' is not a whole number of fen",
        # Past what DECIMAL(18,2) holds: refused with a reason, not an engine error.
        6: "column amount: '99999999999999999999' is not a whole number of fen",
    }
    assert_plain_words(_messages(report), tmp_path)


def test_typed_parquet_money_past_the_cent_is_refused(workspace: Settings, tmp_path: Path) -> None:
    """Known answer: DECIMAL(18,3) 39.900 is exact, 12.345 is not; a DOUBLE 79.8 is 79.80 within
    float noise, a DOUBLE 0.125 is an eighth of a fen off."""
    brands = factory.write_csv(tmp_path / "brands.csv", factory.BRANDS_ZH, factory.BRAND_ROWS)
    as_decimal = pa.array([Decimal("39.900"), Decimal("12.345")], pa.decimal128(18, 3))
    as_double = pa.array([79.8, 0.125], pa.float64())
    skus = factory.write_parquet(
        tmp_path / "skus.parquet",
        {
            "sku_id": pa.array(["S1", "S2"]),
            "brand_id": pa.array(["B1", "B2"]),
            "category": pa.array(["食品", "服饰"]),
            "list_price": as_decimal,
            "launched_at": pa.array(["2025-03-01", "2025-03-01"]),
        },
    )
    skus2 = factory.write_parquet(
        tmp_path / "skus2.parquet",
        {
            "sku_id": pa.array(["S3", "S4"]),
            "brand_id": pa.array(["B1", "B2"]),
            "category": pa.array(["食品", "服饰"]),
            "list_price": as_double,
            "launched_at": pa.array(["2025-03-01", "2025-03-01"]),
        },
    )
    ingest_files(workspace, [brands], progress=False)
    report = ingest_files(workspace, [skus, skus2], table="skus", progress=False)
    assert rows(workspace, "SELECT sku_id, list_price FROM skus ORDER BY 1") == [
        ("S1", Decimal("39.90")),
        ("S3", Decimal("79.80")),
    ]
    tail = " has more than 2 decimals: a fraction of a fen is not rounded"
    assert reasons_by_line(report.files[0].quarantine) == {2: "column list_price: '12.345'" + tail}
    assert reasons_by_line(report.files[1].quarantine) == {2: "column list_price: '0.125'" + tail}


def test_json_lines_cut_off_and_broken(workspace: Settings, tmp_path: Path) -> None:
    """Known answer: line 2 is broken JSON (a bare word at its 20th character), line 3 blank,
    line 5 an array, line 6 cut off; the brands on lines 1 and 4 land."""
    good = {
        "brand_id": "B1",
        "name": "山野",
        "category": "食品",
        "origin": "传统品牌",
        "joined_at": "2025-01-01",
    }
    good2 = {**good, "brand_id": "B2", "name": "织梦"}
    text = (
        json.dumps(good, ensure_ascii=False)
        + '\n{"brand_id": "B9", name}\n\n'
        + json.dumps(good2, ensure_ascii=False)
        + "\n[1, 2]\n"
        + json.dumps(good, ensure_ascii=False)[:20]
    )
    path = tmp_path / "brands.jsonl"
    path.write_text(text, encoding="utf-8")
    report = ingest_files(workspace, [path], table="brands", progress=False)
    (f,) = report.files
    assert (f.table, f.rows, f.accepted, f.rejected) == ("brands", 5, 2, 3)
    assert rows(workspace, "SELECT brand_id, name FROM brands ORDER BY 1") == [
        ("B1", "山野"),
        ("B2", "织梦"),
    ]
    assert reasons_by_line(f.quarantine) == {
        2: "row: is not a complete JSON record: unreadable from character 20",
        5: "row: is not a JSON object",
        6: "row: is not a complete JSON record: the file ends inside this record "
        "(a cut-off download?)",
    }
    assert_plain_words(_messages(report), tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("orders.xlsx", b"PK\x03\x04 cut off here", "orders.xlsx: not a readable Excel workbook"),
        ("orders.parquet", b"PAR1 not really", "orders.parquet: not a readable Parquet file"),
        ("orders.csv", "订单编号,支付时间\n".encode("utf-16"), "orders.csv"),
        ("orders.json", b'[{"a": 1}, {"a": ', "orders.json, line 1, character 18: not valid JSON"),
    ],
)
def test_unreadable_files_are_refused_in_words(
    seeded: Settings, tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    """A file that cannot be read at all is refused by its name, with what is wrong in words;
    nothing of the batch is written (the good file beside it included)."""
    good = factory.write_csv(tmp_path / "good.csv", factory.ORDERS_ZH, [factory.order_row("O1")])
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(IngestError) as err:
        ingest_files(seeded, [good, bad], progress=False)
    message = str(err.value)
    assert message.startswith(expected), message
    assert_plain_words(message, tmp_path)
    assert rows(seeded, "SELECT count(*) FROM orders") == [(0,)]


def test_cli_lands_a_truncated_file_and_speaks_plainly(seeded: Settings, tmp_path: Path) -> None:
    """The CLI on a cut-off GBK export: exit 3, the complete rows in, no engine text out."""
    text = HEADER + "\n" + _line("O1") + "\n" + _line("O2") + "\nO3,2026-10-01 12:0"
    path = tmp_path / "cut.csv"
    path.write_bytes(text.encode("gbk"))
    result = CliRunner().invoke(
        app, ["ingest", str(path), "--workspace", str(seeded.workspace), "--no-progress"]
    )
    assert result.exit_code == 3, result.output
    assert "row ×1" in result.output
    assert_plain_words(result.output)
    assert rows(seeded, "SELECT order_id FROM orders ORDER BY 1") == [("O1",), ("O2",)]
