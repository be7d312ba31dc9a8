"""A plain UTF-8 CSV is read by DuckDB itself, and gives the line pass's answer to the line.

The reader skips the line pass (``csvfile``) for a file with no quote and no lone carriage
return, and keeps DuckDB's rows only when DuckDB set no line apart and returned one row per line
after the header. Known answers: lines planted by hand (header = line 1, blank lines before it
counted), and the same file read by the line pass (``plain_layout`` switched off).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.ingest import factory
from tests.ingest.helpers import quarantined, rows
from windmaker.config import Settings
from windmaker.ingest import csvfile, ingest_files, sources
from windmaker.workspace import open_warehouse

HEADER = ",".join(factory.ORDERS_ZH)


def _line(order_id: str, **kw: str) -> str:
    return ",".join(factory.order_row(order_id, **kw))


#: Six records: line 3 an unknown brand, line 5 a quantity of 0, line 6 repeats O1.
BODY = [
    _line("O1", amount="10.00"),
    _line("O2", brand="B9"),
    _line("O3", amount="30.00", buyer="买家三"),
    _line("O4", quantity="0"),
    _line("O1", amount="99.00"),
    _line("O5", amount="5.50"),
]
PLANTED = {
    3: "column brand_id: 'B9' is not a known brands.brand_id",
    5: "column quantity: 0 is below the minimum 1",
    6: "key order_id: 'O1' repeats line 2 (the first is kept)",
}


def _shift(by: int) -> dict[int, str]:
    return {
        line + by: reason.replace("line 2", f"line {2 + by}") for line, reason in PLANTED.items()
    }


def _answer(settings: Settings, path: Path) -> tuple[Any, ...]:
    """Everything the import of ``path`` produced: counts, stored rows, quarantined lines."""
    report = ingest_files(settings, [path], table="orders", progress=False)
    (f,) = report.files
    stored = rows(settings, "SELECT * FROM orders ORDER BY order_id")
    kept = quarantined(f.quarantine) if f.rejected else []
    lines = {int(r["_line"]): r["_reason"] for r in kept}
    with open_warehouse(settings) as wh:
        wh.duckdb.execute("DELETE FROM orders")
        wh.duckdb.execute("DELETE FROM _ingest_log")
    # the quarantined rows' original values too
    return (f.rows, f.accepted, f.rejected), stored, lines, [tuple(r.values()) for r in kept]


@pytest.fixture
def plain_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """How each file was read: "kept" (DuckDB's rows kept), "dropped" (DuckDB's rows dropped),
    "line pass"."""
    answers: list[str] = []
    kept, line_pass = sources._kept_in_order, sources._line_pass

    def kept_spy(con: Any, src: sources.Source, table: str, select: str) -> bool:
        ok = kept(con, src, table, select)
        answers.append("kept" if ok else "dropped")
        return ok

    def line_pass_spy(src: sources.Source) -> None:
        answers.append("line pass")
        line_pass(src)

    monkeypatch.setattr(sources, "_kept_in_order", kept_spy)
    monkeypatch.setattr(sources, "_line_pass", line_pass_spy)
    return answers


def _line_pass_answer(
    settings: Settings, path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, ...]:
    with monkeypatch.context() as m:
        m.setattr(csvfile, "plain_layout", lambda *_: None)
        return _answer(settings, path)


SHAPES: dict[str, Callable[[Path], tuple[Path, int]]] = {
    # (file, how far the planted lines move)
    "lf": lambda p: (_write(p, "\n".join([HEADER, *BODY]) + "\n"), 0),
    "crlf": lambda p: (_write(p, "\r\n".join([HEADER, *BODY]) + "\r\n"), 0),
    "bom": lambda p: (_write(p, "\ufeff" + "\n".join([HEADER, *BODY]) + "\n"), 0),
    "no-final-newline": lambda p: (_write(p, "\n".join([HEADER, *BODY])), 0),
    "blank-lines-before-header": lambda p: (_write(p, "\n\n" + "\n".join([HEADER, *BODY])), 2),
    "tabs": lambda p: (
        _write(p.with_suffix(".tsv"), "\n".join(x.replace(",", "\t") for x in [HEADER, *BODY])),
        0,
    ),
}


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("shape", SHAPES)
def test_a_plain_file_gives_the_line_pass_answer(
    seeded: Settings,
    tmp_path: Path,
    shape: str,
    plain_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, shift = SHAPES[shape](tmp_path / "orders.csv")

    got = _answer(seeded, path)

    assert plain_reads == ["kept"]
    counts, stored, lines, kept = got
    assert counts == (6, 3, 3)
    assert [(r[0], r[9]) for r in stored] == [
        ("O1", Decimal("10.00")),
        ("O3", Decimal("30.00")),
        ("O5", Decimal("5.50")),
    ]
    assert lines == _shift(shift)
    # the duplicate, which the stage holds no original values of, read again from the file
    assert [(r[3], r[11]) for r in kept if r[2].startswith("key")] == [("O1", "99.00")]
    assert got == _line_pass_answer(seeded, path, monkeypatch)


def test_a_later_file_of_a_batch_is_numbered_before_it_is_staged(
    seeded: Settings, tmp_path: Path, plain_reads: list[str]
) -> None:
    """The batch's first file is staged straight from DuckDB's read, its rows numbered by
    their place in the stage; a later one is read into a table first (its stage is made inside
    the transaction). Both give the planted lines. Known answer: :data:`PLANTED`."""
    brands = factory.write_csv(tmp_path / "brands.csv", factory.BRANDS_ZH, factory.BRAND_ROWS)
    path = _write(tmp_path / "orders.csv", "\n".join([HEADER, *BODY]) + "\n")

    report = ingest_files(seeded, [path, brands], progress=False)

    assert plain_reads == ["kept", "kept"]  # brands first (the contract's order), then orders
    assert [f.table for f in report.files] == ["orders", "brands"]
    f = report.files[0]
    assert (f.rows, f.accepted, f.rejected) == (6, 3, 3)
    assert {int(r["_line"]): r["_reason"] for r in quarantined(f.quarantine)} == PLANTED
    assert [r[0] for r in rows(seeded, "SELECT order_id FROM orders ORDER BY 1")] == [
        "O1",
        "O3",
        "O5",
    ]


#: Files whose lines DuckDB's rows cannot be numbered by, each with its known quarantine.
IRREGULAR: dict[str, tuple[bytes, dict[int, str]]] = {
    "blank-line-inside": (
        "\n".join([HEADER, BODY[0], "", BODY[2]]).encode(),
        {},
    ),
    "a-cell-missing": (
        "\n".join([HEADER, BODY[0], ",".join(factory.order_row("O7")[:9]), BODY[2]]).encode(),
        {3: "row: has 9 of 10 values (订单状态 onward missing)"},
    ),
    "cut-off-last-row": (
        "\n".join([HEADER, BODY[0], BODY[2], "O8,2026-10-01"]).encode(),
        {
            4: "row: has 2 of 10 values (品牌ID onward missing); "
            "the file ends inside this row (a cut-off download?)"
        },
    ),
    "carriage-return-in-a-value": (
        "\n".join([HEADER, BODY[0], _line("O7", buyer="U\r7"), BODY[2]]).encode(),
        # the line pass reads a lone carriage return as a line end, as spreadsheets do
        {3: "row: has 6 of 10 values", 4: "row: has 5 of 10 values"},
    ),
    "quoted-line-break": (
        "\n".join([HEADER, BODY[0], _line("O7", buyer='"U\n7"'), BODY[2]]).encode(),
        {},
    ),
    "not-utf-8": (
        "\n".join([HEADER, BODY[0]]).encode()
        + b"\n"
        + _line("O7").encode()[:-3]
        + b"\xff\xfe\n"
        + BODY[2].encode()
        + b"\n",
        {3: "not valid utf-8 text"},
    ),
    "line-ends-of-two-kinds": (
        ("\r\n".join([HEADER, BODY[0]]) + "\n" + BODY[2] + "\n").encode(),
        {},
    ),
}


@pytest.mark.parametrize("name", IRREGULAR)
def test_a_file_duckdb_cannot_number_takes_the_line_pass(
    seeded: Settings,
    tmp_path: Path,
    name: str,
    plain_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, expected = IRREGULAR[name]
    path = tmp_path / "orders.csv"
    path.write_bytes(data)

    got = _answer(seeded, path)

    # refused by the byte check, or DuckDB's rows dropped
    assert plain_reads in (["line pass"], ["dropped", "line pass"])
    assert got == _line_pass_answer(seeded, path, monkeypatch)
    _, stored, lines, _ = got
    assert {r[0] for r in stored} >= {"O1", "O3"}
    assert set(lines) == set(expected)
    for line, reason in expected.items():
        assert reason in lines[line]
    with open_warehouse(seeded) as wh:
        left = wh.duckdb.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '\\_\\_ingest%' "
            "ESCAPE '\\'"
        ).fetchall()
    assert left == []
