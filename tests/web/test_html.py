"""Pages rendered in-process, checked with CSS selectors: what each role sees, in both languages."""

from __future__ import annotations

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.web.conftest import login


def soup(client: TestClient, url: str, status: int = 200) -> BeautifulSoup:
    r = client.get(url)
    assert r.status_code == status, f"{url}: {r.status_code} {r.text[:300]}"
    return BeautifulSoup(r.text, "html.parser")


def test_anonymous_visitor_is_sent_to_login(web: TestClient) -> None:
    web.cookies.clear()
    r = web.get("/workbench", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_operator_workbench_lists_exactly_the_portfolio(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    login(web, "operator")
    page = soup(web, "/workbench")
    rows = page.select("#portfolio tbody tr[data-brand]")
    assert {r["data-brand"] for r in rows} == scopes["operator"]
    assert all(r.select_one("td a")["href"] == f"/brands/{r['data-brand']}" for r in rows)


def test_workbench_filters_by_stage(web: TestClient) -> None:
    login(web, "admin")
    everything = soup(web, "/workbench").select("#portfolio tbody tr[data-brand]")
    filtered = soup(web, "/workbench?stage=climbing")
    climbing = filtered.select("#portfolio tbody tr[data-brand]")
    assert 0 < len(climbing) < len(everything)
    column = [th["data-sort"] for th in filtered.select("#portfolio thead th")].index("stage")
    stage_col = {r.select("td")[column].get_text(strip=True) for r in climbing}
    assert len(stage_col) == 1


def test_workbench_exports_csv_and_xlsx(web: TestClient, scopes: dict[str, set[str]]) -> None:
    import io

    from openpyxl import load_workbook

    login(web, "operator")
    web.cookies.set("wm_lang", "en")
    csv = web.get("/workbench/export.csv")
    assert csv.status_code == 200 and csv.text.startswith("\ufeffPriority,Brand ID,Brand,")
    assert len(csv.text.strip().splitlines()) == len(scopes["operator"]) + 1
    xlsx = web.get("/workbench/export.xlsx")
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    assert ws.max_row == len(scopes["operator"]) + 1


def test_brand_page_shows_ladder_reason_bottlenecks_and_plan(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    login(web, "admin")
    brand = sorted(scopes["operator"])[0]
    page = soup(web, f"/brands/{brand}")
    assert len(page.select("#ladder .step")) == 4 and len(page.select("#ladder .step.current")) == 1
    assert page.select_one("#stage-reason").get_text(strip=True)
    items = page.select("#bottlenecks li")
    assert len(items) == 5
    # each capability in words and its own unit, never a bare index gap
    assert all("Gap" not in li.get_text() and "差距" not in li.get_text() for li in items)
    assert 1 <= len(page.select("#plan tbody tr")) <= 5
    assert page.select(".chart[data-chart]")


def test_bottleneck_explained_in_the_metric_own_unit() -> None:
    """A failed criterion cites its numbers; a weakness its metric against the peers; a
    capability at or above its reference is never called a weakness."""
    from windmaker.i18n import explain_bottleneck

    crit = {
        "ranked_by": "criterion",
        "criterion": "ska_supply",
        "criterion_value": 0.018,
        "criterion_threshold": 0.05,
        "weakness": True,
    }
    assert explain_bottleneck(crit, "en") == "Special-supply share 1.8%; SKA requires 5.0%"
    assert explain_bottleneck(crit, "zh-CN") == "特供占比 1.8%，SKA品牌需 5.0%"
    weak = {
        "ranked_by": "gap",
        "weakness": True,
        "metric": "repurchase_rate_90d",
        "metric_value": 0.25,
        "metric_reference": 0.55,
        "metric_basis": "advancers",
    }
    assert explain_bottleneck(weak, "en") == (
        "Returned within 90 days 25.0% against 55.0% for brands that made the step"
    )
    fine = {**weak, "weakness": False, "metric_value": 0.6}
    assert explain_bottleneck(fine, "en") == "At or above reference"
    assert explain_bottleneck(fine, "zh-CN") == "已达参照水平"


def test_brand_user_sees_itself_and_not_found_elsewhere(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    login(web, "brand")
    [own] = scopes["brand"]
    r = web.get("/", follow_redirects=False)
    assert r.headers["location"] == f"/brands/{own}"
    assert soup(web, f"/brands/{own}").select_one("#brand-name")
    other = sorted(scopes["admin"] - {own})[0]
    page = soup(web, f"/brands/{other}", status=404)
    assert "404" in page.select_one("h1").get_text()
    assert {
        r["data-brand"] for r in soup(web, "/workbench").select("#portfolio tbody tr[data-brand]")
    } == {own}
    for url in ("/providers", "/ecosystem", "/data"):
        assert web.get(url).status_code == 404


def test_provider_sees_its_clients_only(web: TestClient, scopes: dict[str, set[str]]) -> None:
    login(web, "provider")
    rows = soup(web, "/workbench").select("#portfolio tbody tr[data-brand]")
    assert {r["data-brand"] for r in rows} == scopes["provider"]
    registry = soup(web, "/providers").select("#registry tbody tr")
    assert len(registry) == 1


def test_language_switch_is_remembered(web: TestClient) -> None:
    login(web, "admin")
    web.get("/lang/en?next=/workbench")
    assert soup(web, "/workbench").select_one("html")["lang"] == "en"
    assert "Workbench" in soup(web, "/workbench").select_one("nav").get_text()
    web.get("/lang/zh-CN?next=/workbench")
    assert "工作台" in soup(web, "/workbench").select_one("nav").get_text()


def test_language_switch_refuses_offsite_redirects(web: TestClient) -> None:
    r = web.get("/lang/en?next=//evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/"


def test_brushing_share_shows_its_evidence(web: TestClient, web_market) -> None:  # type: ignore[no-untyped-def]
    """Where a brand's brushing share appears, the signals behind its flags appear in words, with
    whether they left GMV (the simulated market plants a burst ring)."""
    from windmaker.workspace import open_warehouse

    with open_warehouse(web_market) as wh:
        t = wh.table("mdl_brushing_orders")
        brand = str(wh.execute(t.group_by("brand_id").aggregate(n=t.count())).iloc[0]["brand_id"])
    login(web, "admin")
    web.cookies.set("wm_lang", "en")
    page = soup(web, f"/brands/{brand}")
    items = [li.get_text(" ", strip=True) for li in page.select("#brushing-evidence li")]
    assert items and any("high confidence, left out of GMV" in i for i in items)
    assert any("several accounts ordering together" in i for i in items)
    assert not any("dense_block" in i or "+" in i for i in items)
    rows = [th.get_text(strip=True) for th in page.select("#trust th[scope=row]")]
    assert "Suspected brushing share" in rows and "brushing_share" not in rows


def test_trend_marks_a_month_to_date() -> None:
    """The last month holds 16 days: labelled to date and drawn dashed from the month before."""
    from windmaker.views.charts import trend

    rows = [
        {"period": "2026-08-01", "net_gmv": 100.0, "to_date": False, "days_covered": 31},
        {"period": "2026-09-01", "net_gmv": 110.0, "to_date": False, "days_covered": 30},
        {"period": "2026-10-01", "net_gmv": 60.0, "to_date": True, "days_covered": 16},
    ]
    opt = trend(rows, ["net_gmv"], "en")
    assert opt["xAxis"]["data"] == ["2026-08", "2026-09", "2026-10 (to date, 16 days)"]
    solid, dashed = opt["series"]
    assert solid["data"] == [100.0, 110.0, None]
    assert dashed["data"] == [None, 110.0, 60.0] and dashed["lineStyle"]["type"] == "dashed"
    whole = trend(rows[:2], ["net_gmv"], "zh-CN")
    assert len(whole["series"]) == 1 and whole["xAxis"]["data"] == ["2026-08", "2026-09"]
