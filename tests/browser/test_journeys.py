"""The main journeys in Debian's Chromium: each role logs in and does what it came to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, login, shot
from windmaker.config import Settings
from windmaker.i18n import name
from windmaker.store import create_user, engine_for, open_session, upsert_provider

pytestmark = pytest.mark.browser


#: What a formatted value reads like on a zh-CN page: money (¥1,234 / ¥12.35万 / ¥1.3亿), a
#: percentage, a whole count, a plain number, hours, or the missing-value word.
FORMATTED = re.compile(
    r"^-?(¥[\d,]+(\.\d{1,2})?(万|亿)?|[\d,]+(\.\d)?%|[\d,]+|\d+\.\d{1,2}|[\d.]+小时|暂无|–)$"
)


def _assert_formatted(texts: list[str]) -> None:
    assert texts, "no value on the page"
    for text in texts:
        assert FORMATTED.match(text.strip()), f"not formatted for people: {text!r}"


def test_operator_triages_drills_down_and_closes_an_action(
    page: Page, server: Server, scopes: dict[str, set[str]]
) -> None:
    """The operator's morning: the worst brand first, its drill-down to the live session behind
    the weakest driver, then an action of its plan assigned, started and done."""
    login(page, server, "operator")
    expect(page.locator("#portfolio")).to_be_visible()
    rows = page.locator("#portfolio tbody tr[data-brand]")
    assert rows.count() == min(len(scopes["operator"]), 50)
    expect(page.locator("#summary")).to_be_visible()
    shot(page, "operator-workbench")
    # Triage: the first row is the brand that needs attention most.
    first = rows.first
    brand = first.get_attribute("data-brand")
    first.locator("td a").first.click()
    page.wait_for_url(re.compile(f"/brands/{brand}$"))
    expect(page.locator("#ladder .step.current")).to_have_count(1)
    expect(page.locator("#stage-reason")).not_to_be_empty()
    _assert_formatted(page.locator("#plan .plan-current").all_inner_texts())
    _assert_formatted(page.locator("#plan .plan-target").all_inner_texts())
    shot(page, "operator-brand")

    # Drill down: the brand's tree, then the session where its weakest driver is lowest.
    page.locator("#drill-link a").click()
    page.wait_for_url(re.compile(f"/brands/{brand}/drill"))
    leak = page.locator("#leaks a.leak-session").first
    expect(leak).to_be_visible()
    leak.click()
    page.wait_for_url(re.compile(f"/brands/{brand}/drill/sessions/"))
    body = page.locator("main").inner_text()
    assert "¥" in body and not re.search(r"\d\.\d{4,}", body), body[:500]
    shot(page, "operator-drill-session")

    # Act: assign the plan's first action, start it, finish it; the history says so.
    page.goto(f"{server.url}/brands/{brand}")
    plan = page.locator("#plan tbody tr")
    assert 3 <= plan.count() <= 5
    action = plan.first.get_attribute("data-action")
    row = page.locator(f'#plan tbody tr[data-action="{action}"]')
    row.locator("details.assign summary").click()
    row.locator("form.assign-form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    row = page.locator(f'#plan tbody tr[data-action="{action}"]')
    expect(row.locator(".pill")).to_have_text(name("action_status", "open", "zh-CN"))
    for status in ("doing", "done"):
        row.locator("form.status-form button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        row = page.locator(f'#plan tbody tr[data-action="{action}"]')
        expect(row.locator(".pill")).to_have_text(name("action_status", status, "zh-CN"))
    expect(row).to_contain_text("operator")
    row.locator("details.item-history summary").click()
    history = row.locator("details.item-history").inner_text()
    assert name("action_status", "done", "zh-CN") in history
    shot(page, "operator-assigned-action")


def test_provider_opens_a_client_and_downloads_its_report(
    page: Page, server: Server, scopes: dict[str, set[str]]
) -> None:
    """The provider's morning: its clients on the workbench, one client's page, that client's
    monthly report as a PDF, and its own provider page with the tier lines in 万/亿."""
    login(page, server, "provider")
    rows = page.locator("#portfolio tbody tr[data-brand]")
    assert rows.count() == min(len(scopes["provider"]), 50) > 0
    shot(page, "provider-workbench")
    client = rows.first.get_attribute("data-brand")
    assert client in scopes["provider"]
    rows.first.locator("td a").first.click()
    page.wait_for_url(re.compile(f"/brands/{client}$"))
    _assert_formatted(page.locator("#plan .plan-current").all_inner_texts())
    shot(page, "provider-brand")
    with page.expect_download(timeout=120_000) as download:
        page.locator('#h-ladder a[href*="format=pdf"]').click()
    saved = download.value.path()
    assert saved is not None
    pdf = Path(saved).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    assert download.value.suggested_filename.endswith(".pdf")
    page.goto(f"{server.url}/providers")
    page.locator("#registry a[href^='/providers/']").first.click()
    page.wait_for_url(re.compile(r"/providers/[^/]+$"))
    tiers = page.locator("main").inner_text()
    assert "亿" in tiers, tiers[:500]
    shot(page, "provider-page")


def test_brand_reads_its_plan(page: Page, server: Server, scopes: dict[str, set[str]]) -> None:
    """The brand's morning: its own page, its plan in the metrics' units, no one else's
    brand named or linked, and nothing it may not do offered."""
    login(page, server, "brand")
    [own] = scopes["brand"]
    page.wait_for_url(re.compile(f"/brands/{own}$"))
    plan = page.locator("#plan tbody tr")
    assert 3 <= plan.count() <= 5
    _assert_formatted(page.locator("#plan .plan-current").all_inner_texts())
    _assert_formatted(page.locator("#plan .plan-target").all_inner_texts())
    expect(page.locator("#plan .plan-moves").first).not_to_be_empty()
    expect(page.locator("#plan details.assign")).to_have_count(0)
    links = page.locator("#plan a[href^='/brands/']")
    assert all(f"/brands/{own}" in (a.get_attribute("href") or "") for a in links.all())
    shot(page, "brand-plan")


@pytest.fixture(scope="module")
def newcomer(web_market: Settings) -> str:
    """A provider that has not been admitted yet, and its user."""
    with open_session(engine_for(web_market)) as s:
        upsert_provider(
            s,
            provider_id="NEWCO",
            name="新来的服务商",
            kind="traffic_agency",
            capabilities=["traffic"],
            categories=["beauty"],
            capacity=3,
            status="applicant",
            actor="test",
        )
        create_user(
            s,
            username="newco",
            password="newco-pass",
            role="provider",
            provider_id="NEWCO",
            actor="test",
        )
    return "newco"


def test_provider_applies_and_admin_decides(
    page: Page, browser, server: Server, newcomer: str
) -> None:  # type: ignore[no-untyped-def]
    login(page, server, newcomer, "newco-pass")
    page.goto(f"{server.url}/providers")
    form = page.locator("#apply-form")
    form.locator("#a-name").fill("新来的服务商")
    form.locator("#a-kind").select_option("traffic_agency")
    form.locator("#cap-traffic").check()
    form.locator("#a-cats").fill("beauty, food")
    form.locator("#a-team").fill("25")
    form.locator("#a-gmv").fill("60000000")
    form.locator("#a-cases").fill("品牌甲：投流半年 GMV 翻倍\n品牌乙：ROAS 从 1.8 到 3.1")
    form.locator("#a-founded").fill("2020-03-01")
    form.locator("#a-cap").fill("8")
    shot(page, "provider-application-form")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/applications/\d+$"))
    lang = page.locator("html").get_attribute("lang") or "zh-CN"
    expect(page.locator("#app-status")).to_have_text(name("application_status", "pending", lang))
    proposal = page.locator("#proposal").inner_text()
    assert proposal in {name("outcome", o, lang) for o in ("admitted", "probation", "rejected")}
    assert page.locator("#criteria tbody tr").count() >= 3
    app_url = page.url
    shot(page, "provider-application-submitted")

    admin_ctx = browser.new_context(locale="zh-CN")
    admin = admin_ctx.new_page()
    login(admin, server, "admin")
    admin.goto(f"{server.url}/providers")
    admin.locator("#queue a", has_text=app_url.rsplit("/", 1)[1]).first.click()
    admin.locator("#decision").select_option("admitted")
    admin.locator("#note").fill("资质齐全 qualifications complete")
    admin.locator("#decide-form button[type=submit]").click()
    admin.wait_for_load_state("networkidle")
    expect(admin.locator("#outcome")).to_have_text(name("outcome", "admitted", "zh-CN"))
    shot(admin, "admin-decided-application")
    admin_ctx.close()

    page.goto(app_url)  # the applicant sees the outcome
    expect(page.locator("#app-status")).to_have_text(name("application_status", "decided", lang))
    expect(page.locator("#outcome")).to_have_text(name("outcome", "admitted", lang))


def test_brand_sees_only_itself(page: Page, server: Server, scopes: dict[str, set[str]]) -> None:
    login(page, server, "brand")
    [own] = scopes["brand"]
    page.wait_for_url(re.compile(f"/brands/{own}$"))
    expect(page.locator("#brand-name")).to_contain_text(own)
    nav = page.locator("header nav").inner_text()
    assert "工作台" not in nav and "服务商" not in nav
    other = sorted(scopes["admin"] - {own})[0]
    response = page.goto(f"{server.url}/brands/{other}")  # the user edits the URL
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_contain_text("404")
    # Nothing of the other brand is shown: no name, ladder, plan (its id is only in the URL typed).
    for selector in ("#brand-name", "#ladder", "#plan", "#stage-reason"):
        expect(page.locator(selector)).to_have_count(0)
    shot(page, "brand-edits-url-not-found")


def test_upload_a_bad_file_and_read_the_quarantine(
    page: Page, server: Server, tmp_path: Path
) -> None:
    bad = tmp_path / "达人账号.csv"
    bad.write_bytes(
        "账号ID,账号类型,品牌ID,账号名称,类目,粉丝数,创建时间\n"
        "NEW1,达人,,新达人,beauty,1200,2026-10-01 10:00:00\n"
        "NEW2,外星人,,坏类型,beauty,10,2026-10-01\n"
        "NEW3,达人,,负粉丝,beauty,-5,2026-10-01\n".encode("gbk")
    )
    login(page, server, "admin")
    page.goto(f"{server.url}/data")
    page.set_input_files("#file", str(bad))
    page.locator("#upload-form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#accepted-count")).to_contain_text("1")
    expect(page.locator("#rejected-count")).to_contain_text("2")
    reasons = page.locator("#quarantine tbody tr")
    expect(reasons).to_have_count(2)
    text = page.locator("#quarantine").inner_text()
    assert "kind" in text and "fans" in text
    shot(page, "data-quarantine-report")


def test_switch_language(page: Page, server: Server) -> None:
    login(page, server, "admin")
    page.goto(f"{server.url}/workbench")
    expect(page.locator("header nav")).to_contain_text("工作台")
    page.click("#lang-switch")
    page.wait_for_load_state("networkidle")
    expect(page.locator("header nav")).to_contain_text("Workbench")
    page.goto(f"{server.url}/ecosystem")  # remembered on the next page
    expect(page.locator("header nav")).to_contain_text("Ecosystem")
    shot(page, "language-english")
    page.click("#lang-switch")
    page.wait_for_load_state("networkidle")
    expect(page.locator("header nav")).to_contain_text("生态")
