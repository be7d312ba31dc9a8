"""The operator's workbench: summary strip, search, sort, server-side paging, filters, the GMV at
stake as its definition says, and exports under human headers with rounded values."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.web.conftest import login
from windmaker import numbers, results
from windmaker.config import Settings
from windmaker.i18n import name
from windmaker.views.readmodel import ReadModel
from windmaker.workspace import open_warehouse


@pytest.fixture(scope="module")
def rm(web_market: Settings) -> Iterator[ReadModel]:
    """The read model of the market the pages are served from (for reference answers)."""
    with open_warehouse(web_market) as wh:
        yield ReadModel.of(wh)


def page(client: TestClient, url: str, lang: str = "en") -> BeautifulSoup:
    client.cookies.set("wm_lang", lang)
    r = client.get(url)
    assert r.status_code == 200, f"{url}: {r.status_code}"
    return BeautifulSoup(r.text, "html.parser")


def brand_rows(soup: BeautifulSoup) -> list[str]:
    return [str(tr["data-brand"]) for tr in soup.select("#portfolio tbody tr[data-brand]")]


def cells(soup: BeautifulSoup, column: str) -> dict[str, str]:
    """Each row's text in the column whose header sorts by ``column``."""
    keys = [str(th["data-sort"]) for th in soup.select("#portfolio thead th")]
    i = keys.index(column)
    return {
        str(tr["data-brand"]): tr.select("td")[i].get_text(strip=True)
        for tr in soup.select("#portfolio tbody tr[data-brand]")
    }


def test_paging_walks_through_every_brand_of_the_scope(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    login(web, "admin")
    total = len(scopes["admin"])
    assert total > 30
    seen: list[str] = []
    url: str | None = "/workbench?page_size=15"
    texts = []
    while url:
        soup = page(web, url)
        texts.append(soup.select_one("#paging").get_text(strip=True))
        seen += brand_rows(soup)
        nxt = soup.select_one('.wb-pager a[rel="next"]')
        url = str(nxt["href"]) if nxt else None
    assert texts[0] == f"Showing 1–15 of {total}"
    assert texts[-1] == f"Showing {15 * (len(texts) - 1) + 1}–{total} of {total}"
    assert len(seen) == len(set(seen)) == total and set(seen) == scopes["admin"]
    zh = page(web, "/workbench?page_size=15&page=2", "zh-CN")
    assert zh.select_one("#paging").get_text(strip=True) == f"第 16–30 条，共 {total} 条"
    assert zh.select_one('.wb-pager a[rel="prev"]')["href"] == "/workbench?page_size=15"
    # the default page holds 50, and says how many there are in all
    first = page(web, "/workbench")
    assert len(brand_rows(first)) == min(50, total)
    assert first.select_one("#paging").get_text(strip=True) == (
        f"Showing 1–{min(50, total)} of {total}"
    )


def test_prev_and_next_keep_the_filters(web: TestClient) -> None:
    login(web, "admin")
    soup = page(web, "/workbench?stage=climbing&sort=name&dir=desc&page_size=5")
    nxt = str(soup.select_one('.wb-pager a[rel="next"]')["href"])
    assert "stage=climbing" in nxt and "sort=name" in nxt and "dir=desc" in nxt
    assert "page=2" in nxt and "page_size=5" in nxt


def test_sort_by_gmv_orders_the_rows(web: TestClient, rm: ReadModel) -> None:
    login(web, "admin")
    gmv = rm.overview(None).set_index("brand_id")["net_gmv_t90d"].dropna()
    soup = page(web, "/workbench?sort=net_gmv_t90d&dir=desc&page_size=1000")
    order = [b for b in brand_rows(soup) if b in gmv.index]
    assert [gmv[b] for b in order] == sorted(gmv, reverse=True)
    th = soup.select_one('#portfolio th[data-sort="net_gmv_t90d"]')
    assert th["aria-sort"] == "descending"
    assert "dir=asc" in th.select_one("a")["href"]  # a second click turns the order round
    assert soup.select_one('#portfolio th[data-sort="priority"]')["aria-sort"] == "none"
    up = page(web, str(th.select_one("a")["href"]))
    assert [b for b in brand_rows(up) if b in gmv.index] == order[::-1]


def test_worst_brand_comes_first_by_default(web: TestClient, rm: ReadModel) -> None:
    login(web, "admin")
    soup = page(web, "/workbench")
    ranked = rm.overview(None).dropna(subset=["priority"]).sort_values("priority")
    assert brand_rows(soup)[0] == ranked["brand_id"].iloc[0]
    assert soup.select_one('#portfolio th[data-sort="priority"]')["aria-sort"] == "ascending"
    first = soup.select_one("#portfolio tbody tr[data-brand] td a")
    assert first["href"] == f"/brands/{ranked['brand_id'].iloc[0]}"


def test_search_by_name_or_id_finds_the_brand(web: TestClient, rm: ReadModel) -> None:
    login(web, "admin")
    brand = rm.overview(None).dropna(subset=["name"]).iloc[3]
    words = str(brand["name"])
    soup = page(web, f"/workbench?q={words[1:]}")
    found = brand_rows(soup)
    assert brand["brand_id"] in found
    names = cells(soup, "name")
    assert all(words[1:].casefold() in names[b].casefold() for b in found)
    assert brand_rows(page(web, f"/workbench?q={brand['brand_id'].lower()}")) == [brand["brand_id"]]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_category_filter_shows_names(web: TestClient, rm: ReadModel, lang: str) -> None:
    login(web, "admin")
    code = rm.categories()[0]
    word = name("category", code, lang)
    assert word != code
    soup = page(web, f"/workbench?category={code}", lang)
    rows = brand_rows(soup)
    expected = set(rm.overview(None).query("category == @code")["brand_id"])
    assert set(rows) == expected
    assert set(cells(soup, "category").values()) == {word}
    options = {o.get_text(strip=True) for o in soup.select("#f-category option")}
    assert word in options and code not in options
    assert soup.select_one("#f-category option[selected]").get_text(strip=True) == word


def test_provider_filter_shows_the_brands_it_serves(
    web: TestClient, web_market: Settings, scopes: dict[str, set[str]]
) -> None:
    from windmaker.store import engine_for, list_assignments, list_providers, open_session

    today = date.today()
    with open_session(engine_for(web_market)) as s:
        served: dict[str, set[str]] = {}
        for a in list_assignments(s, active_on=today):
            served.setdefault(a.provider_id, set()).add(a.brand_id)
        names = {p.provider_id: p.name for p in list_providers(s)}
    login(web, "admin")
    pid = max(served, key=lambda p: len(served[p]))
    soup = page(web, f"/workbench?provider={pid}")
    assert set(brand_rows(soup)) == served[pid]
    chosen = soup.select_one("#f-provider option[selected]")
    assert chosen.get_text(strip=True) == names[pid]
    # an operator is offered the providers of its portfolio only
    login(web, "operator")
    offered = {str(o["value"]) for o in page(web, "/workbench").select("#f-provider option")}
    assert offered - {""} == {p for p, b in served.items() if b & scopes["operator"]}


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_summary_strip_adds_up_to_the_scope(
    web: TestClient, rm: ReadModel, scopes: dict[str, set[str]], role: str
) -> None:
    login(web, role)
    soup = page(web, "/workbench")
    scope = scopes[role]
    stages = [int(b.get_text()) for b in soup.select("#sum-stages li b.n")]
    attentions = {
        str(li["data-attention"]): int(li.select_one("b.n").get_text())
        for li in soup.select("#sum-attention li")
    }
    assert sum(stages) == len(scope)
    assert sum(attentions.values()) == len(scope)
    needing = sum(
        n for a, n in attentions.items() if a in ("trust_alert", "falling", "ready", "stalled")
    )
    assert soup.select_one("#sum-attention h2").get_text(strip=True) == (
        f"Brands needing attention: {needing}"
    )
    view = rm.overview(scope)
    at_risk = view[view["attention"].isin(["trust_alert", "falling", "ready", "stalled"])]
    assert soup.select_one("#sum-risk .wb-big").get_text(strip=True) == numbers.money(
        round(float(at_risk["gmv_at_stake"].sum()), 2), "en"
    )
    # each reason links to the filter it counts
    for li in soup.select("#sum-attention li[data-attention]"):
        link = li.select_one("a")
        if link is not None:
            filtered = page(web, str(link["href"]))
            n = attentions[str(li["data-attention"])]
            if n:
                paging = filtered.select_one("#paging").get_text(strip=True)
                assert paging == f"Showing 1–{min(n, 50)} of {n}"
            else:
                assert not brand_rows(filtered) and filtered.select_one("#empty")
    # portfolio GMV of the latest complete month, and its change on the month before
    bm = rm.snap.frame(results.BRAND_MONTH)
    bm = bm[bm["brand_id"].isin(scope)]
    month = max(bm.loc[~bm["to_date"].astype(bool), "period"])
    prior = (pd.Timestamp(month) - pd.DateOffset(months=1)).date()
    now = bm.loc[bm["period"] == month, "net_gmv"].sum()
    before = bm.loc[bm["period"] == prior, "net_gmv"].sum()
    assert soup.select_one("#sum-gmv .wb-big").get_text(strip=True) == numbers.money(now, "en")
    assert numbers.change(now / before - 1, "en") in soup.select_one("#sum-gmv").get_text()


def test_empty_filter_result_says_so_and_offers_to_clear(web: TestClient) -> None:
    login(web, "admin")
    soup = page(web, "/workbench?q=no-such-brand-anywhere")
    empty = soup.select_one("#empty")
    assert empty.get_text(" ", strip=True).startswith("No brand matches these filters.")
    assert "refresh" not in empty.get_text().lower()
    assert empty.select_one("a")["href"] == "/workbench"
    assert soup.select_one("#paging") is None
    zh = page(web, "/workbench?q=no-such-brand-anywhere", "zh-CN")
    assert "没有符合这些筛选条件的品牌" in zh.select_one("#empty").get_text()


def _expected_stake(rm: ReadModel, window: int) -> dict[str, float]:
    """GMV at stake of every judged brand of the latest period, by the written definition,
    from the read model's own tables (stages, attentions, 90-day GMV)."""
    stages = rm.snap.frame(results.STAGE)
    port = rm.snap.frame(results.PORTFOLIO)
    bm = rm.snap.frame(results.BRAND_MONTH).set_index(["brand_id", "period"])["net_gmv_t90d"]
    latest = rm.snap.latest_period
    assert latest is not None
    now = stages[stages["period"] == latest].merge(bm.rename("gmv").reset_index(), how="left")
    ladder = ["zero_breaking", "climbing", "ka", "ska"]
    back = (pd.Timestamp(latest) - pd.DateOffset(months=window)).date()
    judged_then = set(stages.loc[stages["period"] == back, "brand_id"])
    out = {}
    for row in now.merge(port[port["period"] == latest][["brand_id", "attention"]]).itertuples():
        gmv = float(row.gmv)
        if row.attention == "trust_alert":
            out[row.brand_id] = gmv
        elif row.attention == "falling":
            then = float(bm[(row.brand_id, back)]) if row.brand_id in judged_then else None
            out[row.brand_id] = max(0.0, then - gmv) if then is not None else 0.0
        elif row.attention in ("ready", "stalled"):
            up = ladder[ladder.index(row.stage) + 1]
            peers = now[now["stage"] == up]
            same = peers[peers["category"] == row.category]["gmv"]
            median = (same if not same.empty else peers["gmv"]).median()
            out[row.brand_id] = max(0.0, median - gmv) if pd.notna(median) else 0.0
        else:
            out[row.brand_id] = 0.0
    return out


def test_gmv_at_stake_is_what_its_definition_says(web: TestClient, rm: ReadModel) -> None:
    from windmaker.growth.config import load_ladder_config

    window = load_ladder_config().portfolio.gmv_window_periods
    expected = _expected_stake(rm, window)
    stored = rm.overview(None).set_index("brand_id")["gmv_at_stake"]
    assert {b: round(v, 2) for b, v in expected.items()} == pytest.approx(
        {b: float(stored[b]) for b in expected}, abs=0.02
    )
    # the definition has something to say on this market: some brand has GMV at stake
    assert any(v > 0 for v in expected.values())
    login(web, "admin")
    soup = page(web, "/workbench?page_size=1000")
    shown = cells(soup, "gmv_at_stake")
    assert {b: shown[b] for b in expected} == {
        b: numbers.money(round(v, 2), "en") for b, v in expected.items()
    }
    # defined where it is shown: a tooltip on the header and a written definition
    th = soup.select_one('#portfolio th[data-sort="gmv_at_stake"]')
    assert "lose, or not to gain" in th["title"]
    definition = soup.select_one("details#stake-definition").get_text(" ", strip=True)
    assert f"over the last {window} months" in definition
    zh = page(web, "/workbench", "zh-CN")
    assert "可能损失或错失" in zh.select_one('#portfolio th[data-sort="gmv_at_stake"]')["title"]
    assert "涉及GMV" in zh.select_one("details#stake-definition summary").get_text()


EN_HEADERS = [
    "Priority",
    "Brand ID",
    "Brand",
    "Category",
    "Stage",
    "Attention",
    "Bottleneck",
    "90-day net GMV",
    "90-day GMV change",
    "GMV at stake",
    "Trust alert",
]


def _csv(client: TestClient, url: str, lang: str) -> list[dict[str, Any]]:
    client.cookies.set("wm_lang", lang)
    r = client.get(url)
    assert r.status_code == 200 and r.text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))


def test_exports_have_human_headers_and_rounded_values(
    web: TestClient, rm: ReadModel, scopes: dict[str, set[str]]
) -> None:
    from windmaker.i18n import t

    login(web, "operator")
    headers = [t(k, "en") for k in ("label.category", "label.stage", "label.net_gmv_t90d")]
    rows = _csv(web, "/workbench/export.csv?sort=net_gmv_t90d&dir=desc&page_size=3", "en")
    assert list(rows[0]) == EN_HEADERS and set(headers) <= set(EN_HEADERS)
    # every row of the scope, not one page, in the page's order
    assert [r["Brand ID"] for r in rows] == brand_rows(
        page(web, "/workbench?sort=net_gmv_t90d&dir=desc&page_size=1000")
    )
    assert len(rows) == len(scopes["operator"])
    view = rm.overview(scopes["operator"]).set_index("brand_id")
    for r in rows:
        b = view.loc[r["Brand ID"]]
        assert r["Category"] == name("category", b["category"], "en") != b["category"]
        assert r["Stage"] == name("stage", b["stage"], "en")
        money = r["90-day net GMV"]
        assert float(money) == round(float(b["net_gmv_t90d"]), 2)
        assert len(money.partition(".")[2]) <= 2
        if r["90-day GMV change"]:
            assert r["90-day GMV change"].endswith("%")
            assert len(r["90-day GMV change"].rstrip("%").partition(".")[2]) == 1
        assert r["Trust alert"] in ("Yes", "No")
    zh = _csv(web, "/workbench/export.csv", "zh-CN")
    assert list(zh[0])[:4] == ["优先级", "品牌ID", "品牌", "类目"]
    assert {r["类目"] for r in zh} <= {name("category", c, "zh-CN") for c in rm.categories()}


def test_xlsx_export_keeps_numbers_as_formatted_numbers(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    login(web, "operator")
    web.cookies.set("wm_lang", "en")
    r = web.get("/workbench/export.xlsx?stage=climbing")
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    header = [c.value for c in ws[1]]
    assert header == EN_HEADERS
    body = list(ws.iter_rows(min_row=2))
    assert 0 < len(body) <= len(scopes["operator"])
    assert {row[header.index("Stage")].value for row in body} == {"Climbing"}
    for row in body:
        gmv = row[header.index("90-day net GMV")]
        assert gmv.data_type == "n" and gmv.number_format == "#,##0.00"
        assert round(gmv.value, 2) == gmv.value
        change = row[header.index("90-day GMV change")]
        if change.value is not None:
            assert change.number_format == "0.0%" and round(change.value, 4) == change.value


def test_unknown_sort_and_page_fall_back_safely(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    login(web, "admin")
    soup = page(web, "/workbench?sort=__class__&dir=sideways&page=999&page_size=abc")
    assert soup.select_one('#portfolio th[data-sort="priority"]')["aria-sort"] == "ascending"
    total = len(scopes["admin"])
    last = f"Showing {50 * ((total - 1) // 50) + 1}–{total} of {total}"
    assert soup.select_one("#paging").get_text(strip=True) == last


def test_the_api_lists_the_same_page(web: TestClient) -> None:
    """``GET /api/v1/portfolio`` pages, sorts and filters as the workbench does."""
    login(web, "admin")
    params = "stage=climbing&sort=net_gmv_t90d&dir=desc&page_size=5&page=2"
    body = web.get(f"/api/v1/portfolio?{params}").json()
    soup = page(web, f"/workbench?{params}")
    assert [i["brand_id"] for i in body["items"]] == brand_rows(soup)
    assert soup.select_one("#paging").get_text(strip=True).endswith(f"of {body['total']}")
    assert (body["page"], body["page_size"]) == (2, 5)
