"""Exports neutralise formula injection (issue finding Medium 6).

Planted: brand B1 of ``tests/api/factories.py`` is renamed ``=HYPERLINK("http://x","y")``
and B3's GMV at stake is set to −1,234.5. The workbench's CSV and XLSX exports must carry the
name as text (a leading ``'``; openpyxl reads the cell back with ``data_type`` ``s``, not ``f``)
and the negative figure as a number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.api.factories import PASSWORD
from windmaker.api.app import create_app
from windmaker.config import Settings
from windmaker.views.exports import FORMULA_STARTS, safe_cell
from windmaker.workspace import open_warehouse

EVIL = '=HYPERLINK("http://x","y")'


@pytest.fixture
def client(market: Settings) -> Iterator[TestClient]:
    with open_warehouse(market) as wh:
        brands = wh.execute(wh.table("brands"))
        brands.loc[brands["brand_id"] == "B1", "name"] = EVIL
        wh.write("brands", brands)
        port = wh.execute(wh.table("g_portfolio"))
        port.loc[port["brand_id"] == "B3", "gmv_at_stake"] = Decimal("-1234.50")
        wh.write("g_portfolio", port)
    with TestClient(create_app(market)) as c:
        page = c.get("/login").text
        token = re.search(r'name="(csrf[^"]*)" value="([^"]+)"', page)
        data = {"username": "admin", "password": PASSWORD}
        if token:
            data[token.group(1)] = token.group(2)
        assert c.post("/login", data=data, follow_redirects=False).status_code == 303
        c.cookies.set("wm_lang", "en")  # the exports' headers are in the page language
        yield c


def test_formula_in_a_brand_name_exports_as_text_in_csv(client: TestClient) -> None:
    """The CSV cell is the name behind a single quote; the negative figure stays a number."""
    r = client.get("/workbench/export.csv")
    assert r.status_code == 200
    rows = {row["Brand ID"]: row for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))}
    assert rows["B1"]["Brand"] == "'" + EVIL
    assert float(rows["B3"]["GMV at stake"]) == -1234.5


def test_formula_in_a_brand_name_exports_as_text_in_xlsx(client: TestClient) -> None:
    """openpyxl reads the name cell as a string (``s``), never a formula (``f``); the
    negative GMV at stake is a numeric cell (``n``) holding −1,234.5."""
    r = client.get("/workbench/export.xlsx")
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    header = [c.value for c in ws[1]]
    by_id = {row[header.index("Brand ID")].value: row for row in ws.iter_rows(min_row=2)}
    name = by_id["B1"][header.index("Brand")]
    assert (name.data_type, name.value) == ("s", "'" + EVIL)
    stake = by_id["B3"][header.index("GMV at stake")]
    assert (stake.data_type, stake.value) == ("n", -1234.5)


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_start_is_quoted_and_numbers_are_not(start: str) -> None:
    """OWASP's list: ``=``, ``+``, ``-``, ``@``, tab, CR; a number (negative too) and plain
    text pass unchanged."""
    assert safe_cell(start + "1+1") == "'" + start + "1+1"
    assert safe_cell(-3) == -3 and safe_cell(-2.5) == -2.5 and safe_cell(None) is None
    assert safe_cell("Beauty Two") == "Beauty Two"
