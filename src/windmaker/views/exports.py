"""Spreadsheet exports (CSV and XLSX) whose text cells cannot run as formulas.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab
or carriage return) as a formula, so a brand named ``=HYPERLINK("http://x","y")`` becomes a live
link, or worse, in whoever opens the export. Every export writes its cells through
:func:`safe_cell`, which prefixes such text with a single quote (OWASP's rule for CSV
injection); numbers stay numbers, a negative one included.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: First characters that make a spreadsheet read a text cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_MEDIA = "text/csv; charset=utf-8"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_cell(value: Any) -> Any:
    """``value`` as an export writes it: text that starts a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cells(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Iterable[list[Any]]:
    yield [safe_cell(c) for c in columns]
    for r in rows:
        yield [safe_cell(r.get(c)) for c in columns]


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
