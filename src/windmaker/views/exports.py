"""Spreadsheet exports (CSV and XLSX) whose text cells cannot run as formulas.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab
or carriage return) as a formula, so a brand named ``=HYPERLINK("http://x","y")`` becomes a live
link, or worse, in whoever opens the export. Every export writes its cells through
:func:`safe_cell`, which prefixes such text with a single quote (OWASP's rule for CSV
injection); numbers stay numbers, a negative one included.

Exports are for analysts' spreadsheets: a :class:`Column` gives each column a human header and a
kind. Money is yuan rounded to the fen (a number; in XLSX with a ``#,##0.00`` format), a share is
a percentage (``65.3%`` in CSV; the fraction with a ``0.0%`` format in XLSX), a count a whole
number, and text (words, not codes) is written as it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: First characters that make a spreadsheet read a text cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_MEDIA = "text/csv; charset=utf-8"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Kind = Literal["text", "money", "share", "count"]
#: The XLSX number format of each kind of number.
XLSX_FORMATS: dict[str, str] = {"money": "#,##0.00", "share": "0.0%", "count": "#,##0"}


@dataclass(frozen=True)
class Column:
    """One export column: the row's ``key``, its ``header`` as a reader reads it, its kind."""

    key: str
    header: str
    kind: Kind = "text"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if v != v or v in (float("inf"), float("-inf")) else v


def cell_value(column: Column, value: Any, *, spreadsheet: bool) -> Any:
    """``value`` rounded for its column: money to the fen, a share to a tenth of a percent
    (``"65.3%"`` in CSV, the fraction in a spreadsheet), a count to a whole number."""
    if column.kind == "text":
        return safe_cell(value)
    v = _number(value)
    if v is None:
        return None
    if column.kind == "money":
        return round(v, 2)
    if column.kind == "count":
        return round(v)
    return round(v, 4) if spreadsheet else f"{v * 100:.1f}%"


def safe_cell(value: Any) -> Any:
    """``value`` as an export writes it: text that starts a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cells(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Iterable[list[Any]]:
    yield [safe_cell(c) for c in columns]
    for r in rows:
        yield [safe_cell(r.get(c)) for c in columns]


def table_csv(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> str:
    """Typed rows as CSV under human headers (BOM first, so Excel reads Chinese)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([safe_cell(c.header) for c in columns])
    for r in rows:
        cells = [cell_value(c, r.get(c.key), spreadsheet=False) for c in columns]
        writer.writerow(["" if v is None else v for v in cells])
    return "\ufeff" + buf.getvalue()


def table_xlsx(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]], sheet: str) -> bytes:
    """Typed rows as a one-sheet workbook: numbers are numbers, with a number format."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append([safe_cell(c.header) for c in columns])
    for r in rows:
        cells = []
        for c in columns:
            cell = WriteOnlyCell(ws, value=cell_value(c, r.get(c.key), spreadsheet=True))
            if c.kind in XLSX_FORMATS:
                cell.number_format = XLSX_FORMATS[c.kind]
            cells.append(cell)
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as CSV with a header, prefixed with a BOM so Excel reads Chinese names."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    for cells in _cells(columns, rows):
        writer.writerow(["" if v is None else v for v in cells])
    return "\ufeff" + buf.getvalue()


def xlsx_bytes(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], sheet: str) -> bytes:
    """The rows as a one-sheet workbook with a header."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    for cells in _cells(columns, rows):
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
