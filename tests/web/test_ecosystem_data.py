"""The ecosystem page (tiers, stage mix, flows) and the data page (quarantine in words, what a
refresh changed), rendered in-process for the operator and the admin, in both languages."""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.web.conftest import login
from windmaker import results
from windmaker.codes import Stage
from windmaker.config import Settings
from windmaker.i18n import name, t
from windmaker.views import charts
from windmaker.workspace import open_warehouse


def page(client: TestClient, url: str, lang: str | None = None) -> BeautifulSoup:
    if lang is not None:
        client.get(f"/lang/{lang}?next=/data")
    r = client.get(url)
    assert r.status_code == 200, f"{url}: {r.status_code} {r.text[:300]}"
    return BeautifulSoup(r.text, "html.parser")


def chart_options(soup: BeautifulSoup) -> dict[str, dict[str, Any]]:
    """The ECharts options of a page, by the chart's aria-label."""
    return {el["aria-label"]: json.loads(el["data-chart"]) for el in soup.select("[data-chart]")}


def stages(settings: Settings) -> pd.DataFrame:
    """The diagnosed stages, read from the warehouse (not through the page's read model)."""
    with open_warehouse(settings) as wh:
        frame = wh.execute(wh.table(results.STAGE))
    frame["period"] = pd.to_datetime(frame["period"]).dt.date
    return frame


def test_operator_stage_chart_counts_the_portfolio_month_by_month(
    web: TestClient, scopes: dict[str, set[str]], web_market: Settings
) -> None:
    login(web, "operator")
    soup = page(web, "/ecosystem", "zh-CN")
    option = chart_options(soup)["各阶段品牌数（按月）"]
    mine = stages(web_market)
    mine = mine[mine["brand_id"].isin(scopes["operator"])]
    months = sorted(set(mine["period"]))
    assert option["xAxis"]["data"] == [f"{m.year}年{m.month}月" for m in months]
    assert option["wm"] == {"lang": "zh-CN", "value": "count"}
    assert option["series"], "an operator's stage chart has series"
    totals = [sum(s["data"][i] for s in option["series"]) for i in range(len(months))]
    assert totals == [int((mine["period"] == m).sum()) for m in months]
    assert all(any(v > 0 for v in s["data"]) for s in option["series"])


def test_stage_chart_keys_a_month_once_whatever_its_type() -> None:
    """A period read back as a timestamp and one read as a date are the same month's bar."""
    rows = [
        {"period": "2026-03-01 00:00:00", "stage": "ka", "brands": 2},
        {"period": "2026-03-01", "stage": "climbing", "brands": 3},
        {"period": "2026-04-01", "stage": "ka", "brands": 4},
    ]
    option = charts.stage_distribution(rows, "en")
    assert option["xAxis"]["data"] == ["Mar 2026", "Apr 2026"]
    assert [s["name"] for s in option["series"]] == [
        name("stage", Stage.CLIMBING, "en"),
        name("stage", Stage.KA, "en"),
    ]
    assert [s["data"] for s in option["series"]] == [[3, 0], [2, 4]]


def test_flows_sankey_is_sized_by_its_nodes_and_names_its_months(
    web: TestClient, web_market: Settings
) -> None:
    login(web, "admin")
    soup = page(web, "/ecosystem", "en")
    box = soup.select_one("#flow-chart")
    assert box is not None
    option = json.loads(box["data-chart"])
    nodes = option["series"][0]["data"]
    left = [n for n in nodes if n["depth"] == 0]
    right = [n for n in nodes if n["depth"] == 1]
    assert box["style"] == f"height: {charts.flow_height(option)}px"
    assert charts.flow_height(option) >= charts.SANKEY_NODE_HEIGHT * max(len(left), len(right))
    frame = stages(web_market)
    months = sorted(set(frame["period"]))
    end, start = months[-1], months[max(0, len(months) - 4)]
    window = soup.select_one("#flow-window").get_text(" ", strip=True)
    assert f"{start:%b %Y}" in window and f"{end:%b %Y}" in window
    both = set(frame[frame["period"] == start]["brand_id"]) & set(
        frame[frame["period"] == end]["brand_id"]
    )
    assert sum(link["value"] for link in option["series"][0]["links"]) == len(both)
    assert all(str(end.year) in n["name"] for n in right)


@pytest.mark.parametrize(
    ("lang", "line", "count_word"),
    [("zh-CN", "¥1亿", "家"), ("en", "¥100,000,000", "providers")],
)
def test_tier_lines_read_in_the_page_language(
    web: TestClient, lang: str, line: str, count_word: str
) -> None:
    login(web, "operator")
    soup = page(web, "/ecosystem", lang)
    cells = [td.get_text(strip=True) for td in soup.select("#tiers tbody td")]
    assert line in cells
    sentences = [li.get_text(" ", strip=True) for li in soup.select("#tier-lines li")]
    assert any(line in s and count_word in s for s in sentences), sentences
    assert all("gmv_" not in s and "None" not in s for s in sentences)
    option = chart_options(soup)
    assert all(o.get("wm", {}).get("lang") == lang for o in option.values())


BAD_BRANDS = "品牌ID,品牌名称,类目,品牌来源,入驻时间\nBQ1,坏来源,food,外星,2026-03-01\nBQ2,坏日期,food,工厂升级,明天\n"


def wait_job(client: TestClient, job_id: str) -> BeautifulSoup:
    deadline = time.monotonic() + 180
    while True:
        soup = page(client, f"/data/jobs/{job_id}")
        status = soup.select_one("#job")["data-job-status"]
        if status not in ("queued", "running") or time.monotonic() > deadline:
            return soup
        time.sleep(0.2)


def test_quarantined_rows_show_file_row_column_and_reason_in_words(web: TestClient) -> None:
    login(web, "admin")
    web.get("/lang/zh-CN?next=/data")
    form = page(web, "/data")
    token = form.select_one("#upload-form input[name=csrf_token]")["value"]
    r = web.post(
        "/data/upload",
        data={"csrf_token": token, "table": "brands"},
        files={"file": ("坏品牌.csv", BAD_BRANDS.encode("utf-8"))},
    )
    assert r.status_code == 200, r.text[:500]
    job_id = BeautifulSoup(r.text, "html.parser").select_one("#job")["data-job-id"]
    soup = wait_job(web, job_id)
    assert soup.select_one("#job")["data-job-status"] == "succeeded"
    assert soup.select_one("#rejected-count").get_text(strip=True).endswith("2")
    rows = [
        [td.get_text(" ", strip=True) for td in tr.select("td")]
        for tr in soup.select("#quarantine tbody tr")
    ]
    assert ["坏品牌.csv", "3", "onboarded_at", "'明天' 不是日期"] in rows or any(
        r[0] == "坏品牌.csv" and r[1] == "3" and "不是日期" in r[3] for r in rows
    ), rows
    assert any(r[1] == "2" and "不在允许值之内" in r[3] for r in rows), rows
    assert all(not r[3].startswith("column ") for r in rows)
    link = soup.select_one("#quarantine-download")
    full = web.get(link["href"])
    assert full.status_code == 200 and "外星" in full.text and "_reason" in full.text


def test_after_a_refresh_the_page_says_when_and_what_changed(
    web: TestClient, web_market: Settings
) -> None:
    login(web, "admin")
    web.get("/lang/en?next=/data")
    r = web.post("/data/refresh")
    assert r.status_code == 200, r.text[:300]
    job_id = BeautifulSoup(r.text, "html.parser").select_one("#job")["data-job-id"]
    soup = wait_job(web, job_id)
    assert soup.select_one("#job")["data-job-status"] == "succeeded"
    ran = soup.select_one("#refresh-ran").get_text(" ", strip=True)
    assert ran.startswith("Ran at ") and str(time.gmtime().tm_year) in ran
    frame = stages(web_market)
    months = sorted(set(frame["period"]))
    before = frame[frame["period"] == months[-2]].set_index("brand_id")["stage"]
    after = frame[frame["period"] == months[-1]].set_index("brand_id")["stage"]
    moved = {b for b, s in after.items() if b in before and before[b] != s}
    listed = {li["data-brand"] for li in soup.select("#stage-changes li")}
    assert listed == moved
    assert moved, "the simulated market moves some brand in its last month"
    b = sorted(moved)[0]
    item = soup.select_one(f'#stage-changes li[data-brand="{b}"]').get_text(" ", strip=True)
    assert f"{name('stage', before[b], 'en')} → {name('stage', after[b], 'en')}" in item
    assert soup.select_one(f'#stage-changes a[href="/brands/{b}"]') is not None
    data = page(web, "/data")
    assert data.select_one("#refresh-ran") is not None


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_failed_job_says_why_in_the_page_language_and_never_in_the_engine_s_words(
    web: TestClient, lang: str
) -> None:
    """A refusal reads as the catalogue's text for its code with its values (an unreadable
    file: "无法识别的文件：…"); an unexpected failure reads as the catalogue's internal error,
    and the exception's own text (an engine's message) appears nowhere on the page."""
    from windmaker.services.errors import ServiceError
    from windmaker.services.identity import workspace_admin

    login(web, "admin")
    jobs = web.app.state.windmaker.jobs  # type: ignore[attr-defined]
    admin = workspace_admin("test")

    def refused(_progress: Any) -> dict[str, Any]:
        raise ServiceError("unsupported_file", 415, reason="days.csv: line 3 is cut off")

    def crashed(_progress: Any) -> dict[str, Any]:
        raise RuntimeError("Catalog Error: Table with name g_stage does not exist!")

    one = jobs.start("ingest", refused, owner=admin, join_running=False)
    two = jobs.start("ingest", crashed, owner=admin, join_running=False)
    for job in (one, two):
        jobs.wait(job.id, timeout=30)
    page(web, "/data", lang)
    first = wait_job(web, one.id).select_one("#job-error").get_text()
    second = wait_job(web, two.id).select_one("#job-error").get_text()
    listing = page(web, "/data").get_text()
    if lang == "zh-CN":
        assert first == "无法识别的文件：days.csv: line 3 is cut off"
        assert second == "服务器内部错误"
    else:
        assert (
            first.endswith("days.csv: line 3 is cut off") and first != "days.csv: line 3 is cut off"
        )
        assert second == t("error.internal", "en")
    for text in (first, second, listing):
        assert "Catalog Error" not in text and "RuntimeError" not in text
