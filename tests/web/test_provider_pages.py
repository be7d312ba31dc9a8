"""The provider pages as a 小二, a 服务商 and an admin read them: the registry with human headers,
search and filters; a provider's page with its evaluation history, tier progress in 万/亿,
clients' GMV change and the warnings waiting for a person; the admission form with every scored
field, its messages next to the fields, and each provider's own applications.

They run on a copy of the web market whose providers were evaluated for every month (as the
demo does), so the forms filed and the warnings confirmed here leave the other tests' pages alone.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.web.conftest import login, web_login
from tests.web.test_vocabulary import offences
from windmaker import numbers, store
from windmaker.api.app import create_app
from windmaker.config import Settings
from windmaker.i18n import name, t
from windmaker.services import providers
from windmaker.services.configs import Configs
from windmaker.services.identity import workspace_admin
from windmaker.workspace import open_warehouse

LANGS = ("zh-CN", "en")
NEWCO = "NEWPP"  # not the browser journey's NEWCO: the market copy may hold it
NEWCO_USER = "newpp"
NEWCO_PASSWORD = "newco-pass-1234"

#: The form field that carries each admission criterion of ecosystem.yaml.
CRITERION_FIELD = {
    "team_size": "team_size",
    "gmv_served_12m": "gmv_served_12m",
    "cases": "cases",
    "years_operating": "founded_at",
    "capacity": "capacity",
    "categories": "categories",
}

GOOD = {
    "name": "新来的服务商",
    "kind": "traffic_agency",
    "capabilities": ["traffic"],
    "categories": "美妆, food",
    "team_size": "25",
    "gmv_served_12m": "6000万",
    "cases": "品牌甲：投流半年 GMV 翻倍\n品牌乙：ROAS 从 1.8 到 3.1\n品牌丙：新品冷启动",
    "founded_at": "2019-05-01",
    "capacity": "8",
}


@pytest.fixture(scope="module")
def market(web_market: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the web market evaluated for every month, with an applicant provider user and
    a warning waiting for a person."""
    copy = tmp_path_factory.mktemp("provider-pages") / "ws"
    shutil.copytree(web_market.workspace, copy)
    settings = web_market.model_copy(update={"workspace": copy})
    admin = workspace_admin("test")
    with open_warehouse(settings) as wh, store.open_session(store.engine_for(settings)) as s:
        runs = providers.evaluate_months(s, wh, Configs.of(settings), admin)
        assert len(runs) == len(
            set(wh.execute(wh.table("m_brand_month").select("period"))["period"])
        )
        if not providers.decisions(s, admin, status="proposed", kind="warning"):
            target = next(p for p in store.list_providers(s) if p.status == "admitted")
            store.propose_decision(
                s,
                provider_id=target.provider_id,
                kind="warning",
                proposed_outcome="warned",
                reasons=[
                    {"code": "evaluation.not_judged", "params": {"clients": 1, "min_clients": 2}}
                ],
                period=runs[-1].period,
            )
        store.upsert_provider(
            s,
            provider_id=NEWCO,
            name="新来的服务商",
            kind="traffic_agency",
            capabilities=["traffic"],
            categories=["beauty"],
            capacity=3,
            status="applicant",
            actor="test",
        )
        store.create_user(
            s,
            username=NEWCO_USER,
            password=NEWCO_PASSWORD,
            role="provider",
            provider_id=NEWCO,
            actor="test",
        )
    return settings


@pytest.fixture(scope="module")
def client(market: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(market)) as c:
        yield c


def page(client: TestClient, url: str, lang: str = "zh-CN", status: int = 200) -> BeautifulSoup:
    client.cookies.set("wm_lang", lang)
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code)
    return BeautifulSoup(r.text, "html.parser")


def as_user(client: TestClient, username: str, lang: str = "zh-CN") -> None:
    if username == NEWCO_USER:
        client.cookies.clear()
        assert web_login(client, NEWCO_USER, NEWCO_PASSWORD).status_code == 303
    else:
        login(client, username)
    client.cookies.set("wm_lang", lang)


def own_provider(market: Settings, username: str = "provider") -> str:
    with store.open_session(store.engine_for(market)) as s:
        user = store.get_user_by_name(s, username=username)
        assert user is not None and user.provider_id
        return user.provider_id


# -- the registry ------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_registry_speaks_in_human_headers_and_kind_words(client: TestClient, lang: str) -> None:
    as_user(client, "admin", lang)
    soup = page(client, "/providers", lang)
    headers = [th.get_text(strip=True) for th in soup.select("#registry thead th")]
    assert headers == [
        t(f"providers.col.{c}", lang)
        for c in (
            "provider",
            "kind",
            "status",
            "tier",
            "score",
            "clients",
            "capacity_used",
            "gmv_served",
        )
    ]
    assert "ID" not in headers and "kind" not in headers and "Brand" not in headers
    rows = soup.select("#registry tbody tr[data-provider]")
    assert len(rows) > 3
    words = {
        name("provider_kind", k, lang)
        for k in (
            "brand_operation",
            "influencer_agency",
            "traffic_agency",
            "supply_chain",
            "full_service",
        )
    }
    for row in rows:
        cells = row.select("td")
        assert cells[1].get_text(strip=True) in words
        assert re.fullmatch(r"[\d,]+ / [\d,]+", cells[6].get_text(strip=True))
        assert cells[7].get_text(strip=True).startswith("¥")
    scores = [r.select_one("td.score").get_text(" ", strip=True) for r in rows]
    assert any(re.match(r"^-?\d+\.\d{1,2}", s) for s in scores), scores
    if lang == "zh-CN":
        assert any("万" in r.select_one("td.gmv").get_text() for r in rows)
    assert (
        offences(
            str(soup),
            lang,
            {r.select_one("td a").get_text() for r in rows} | {r["data-provider"] for r in rows},
        )
        == []
    )


def test_registry_searches_by_name_and_id_and_filters_by_kind_and_tier(client: TestClient) -> None:
    as_user(client, "admin", "en")
    every = page(client, "/providers", "en").select("#registry tbody tr[data-provider]")
    first = every[0]
    wanted = first.select_one("td a").get_text(strip=True)
    found = page(client, f"/providers?q={wanted[2:6]}", "en").select(
        "#registry tbody tr[data-provider]"
    )
    assert first["data-provider"] in {r["data-provider"] for r in found}
    assert all(wanted[2:6].lower() in r.select_one("td a").get_text().lower() for r in found)
    by_id = page(client, f"/providers?q={first['data-provider'].lower()}", "en")
    assert [r["data-provider"] for r in by_id.select("#registry tbody tr[data-provider]")] == [
        first["data-provider"]
    ]
    assert by_id.select_one("#registry-count").get_text(strip=True) == t(
        "providers.showing", "en", shown="1", total=numbers.count(len(every), "en")
    )
    kind = page(client, "/providers?kind=influencer_agency", "en").select(
        "#registry tbody tr[data-provider]"
    )
    assert kind and len(kind) < len(every)
    assert {r.select("td")[1].get_text(strip=True) for r in kind} == {
        name("provider_kind", "influencer_agency", "en")
    }
    untiered = page(client, "/providers?tier=none", "en").select(
        "#registry tbody tr[data-provider]"
    )
    assert {r.select_one("td.tier").get_text(strip=True) for r in untiered} <= {
        t("providers.tier_none", "en")
    }
    nothing = page(client, "/providers?q=no-such-provider-anywhere", "en")
    assert nothing.select_one("#registry tbody td").get_text(strip=True) == t(
        "providers.no_match", "en"
    )


# -- a provider's page -------------------------------------------------------------------------
def _standing(market: Settings, provider_id: str) -> float:
    with store.open_session(store.engine_for(market)) as s:
        board = providers.tiers(s, Configs.of(market), workspace_admin("test"))
    return float(next(x.annual_gmv_served for x in board.standings if x.provider_id == provider_id))


@pytest.mark.parametrize("lang", LANGS)
def test_tier_progress_reads_in_wan_and_yi_against_both_lines(
    client: TestClient, market: Settings, lang: str
) -> None:
    pid = own_provider(market)
    as_user(client, "admin", lang)
    soup = page(client, f"/providers/{pid}", lang)
    gmv = _standing(market, pid)
    lines = {
        li["data-tier"]: li.select_one(".tier-line").get_text(" ", strip=True)
        for li in soup.select("#tier-lines li")
    }
    share = gmv / 1e8
    expected = t(
        "providers.tier_progress",
        lang,
        value=numbers.money(gmv, lang),
        line="¥1亿" if lang == "zh-CN" else "¥100,000,000",
        pct=numbers.pct(share, lang, 0 if share >= 0.1 else 1),
    )
    assert lines["gmv_100m"].startswith(expected)
    assert ("¥10亿" if lang == "zh-CN" else "of ¥1,000,000,000 (") in lines["gmv_1b"]
    if lang == "zh-CN" and gmv >= 1e4:
        assert "万" in expected
    text = soup.select_one("#tier").get_text(" ", strip=True)
    assert "gmv_100m" not in str(soup.select_one("#tier-lines")).replace('data-tier="gmv_100m"', "")
    assert "→" not in text and "–" not in text


def test_evaluation_history_and_its_parts(client: TestClient, market: Settings) -> None:
    pid = own_provider(market)
    as_user(client, "admin", "en")
    soup = page(client, f"/providers/{pid}", "en")
    chart = soup.select_one(".chart[data-chart]")
    assert chart is not None
    import json

    option = json.loads(str(chart["data-chart"]))
    with store.open_session(store.engine_for(market)) as s:
        months = store.list_evaluations(s, provider_id=pid)
    assert len(option["series"][0]["data"]) == len(months) > 1
    assert option["xAxis"]["data"][0] == numbers.month(min(e.period for e in months), "en")
    parts = {tr["data-metric"]: tr for tr in soup.select("#parts tbody tr")}
    assert {"client_uplift", "client_retention", "trust_violations_per_client"} <= set(parts)
    retention = parts["client_retention"].select("td")
    assert retention[1].get_text(strip=True) == "≥ 60%"
    assert retention[2].get_text(strip=True) == "5%"
    assert "(lower is better)" in parts["trust_violations_per_client"].get_text()
    assert len(soup.select("#evaluations tbody tr")) == len(months)


@pytest.mark.parametrize("lang", LANGS)
def test_clients_carry_name_stage_and_gmv_change_since_assignment(
    client: TestClient, market: Settings, lang: str
) -> None:
    pid = own_provider(market)
    as_user(client, "admin", lang)
    rows = page(client, f"/providers/{pid}", lang).select("#clients tbody tr[data-brand]")
    assert rows
    with open_warehouse(market) as wh:
        bm = wh.execute(
            wh.table("m_brand_month").select("brand_id", "period", "net_gmv", "to_date")
        )
        brands = wh.execute(wh.table("brands").select("brand_id", "name"))
    with store.open_session(store.engine_for(market)) as s:
        started = {
            a.brand_id: a.started_at
            for a in store.list_assignments(s, provider_id=pid)
            if a.ended_at is None
        }
    bm["period"] = pd.to_datetime(bm["period"]).dt.date
    checked = 0
    for row in rows:
        brand = row["data-brand"]
        cells = row.select("td")
        assert cells[0].get_text(strip=True) == brands.set_index("brand_id").loc[brand, "name"]
        assert cells[1].get_text(strip=True) in {
            name("stage", s, lang) for s in ("zero_breaking", "climbing", "ka", "ska")
        } | {t("providers.stage_unjudged", lang)}
        if brand not in started:
            continue
        full = bm[(bm["brand_id"] == brand) & ~bm["to_date"].astype(bool)].sort_values("period")
        begin = date(started[brand].year, started[brand].month, 1)
        base = full[full["period"] >= begin].head(1)
        base = base if not base.empty else full.head(1)
        expected = float(full["net_gmv"].iloc[-1]) / float(base["net_gmv"].iloc[0]) - 1
        assert cells[4].get_text(strip=True) == numbers.change(expected, lang)
        assert re.fullmatch(r"[+-]?[\d,.]+%|[<>][+-]1,000%", cells[4].get_text(strip=True))
        checked += 1
    assert checked > 0


def test_admin_confirms_a_proposed_warning_from_the_page_and_others_cannot(
    client: TestClient, market: Settings
) -> None:
    with store.open_session(store.engine_for(market)) as s:
        waiting = store.list_decisions(s, status="proposed", kind="warning")[0]
        pid, decision_id = waiting.provider_id, waiting.id
    action = f"/providers/{pid}/decisions/{decision_id}"
    as_user(client, "operator", "en")
    soup = page(client, f"/providers/{pid}", "en")
    assert soup.select_one(f'#proposals [data-decision="{decision_id}"]') is not None
    assert soup.select_one(f'form[action="{action}"]') is None
    r = client.post(action, data={"answer": "confirm", "note": "no"}, follow_redirects=False)
    assert r.status_code in (403, 404)
    as_user(client, "admin", "en")
    soup = page(client, f"/providers/{pid}", "en")
    form = soup.select_one(f'form[action="{action}"]')
    assert form is not None and form.select_one('input[name="csrf_token"]')["value"]
    assert form.select_one('button[value="confirm"]').get_text(strip=True) == "Confirm the warning"
    r = client.post(
        action, data={"answer": "confirm", "note": "two months below"}, follow_redirects=False
    )
    assert r.status_code == 303
    with store.open_session(store.engine_for(market)) as s:
        decided = store.get_decision(s, decision_id=decision_id)
        assert (decided.status, decided.outcome, decided.reviewer) == (
            "confirmed",
            "warned",
            "admin",
        )
        assert store.get_provider(s, provider_id=pid).status == "warned"
        audit = store.list_audit(s, subject_type="provider", subject_id=pid)
        assert any(a.action == "decision.confirmed.warning" and a.actor == "admin" for a in audit)
    soup = page(client, f"/providers/{pid}", "en")
    assert soup.select_one(f'[data-decision="{decision_id}"]') is None


# -- the admission form ------------------------------------------------------------------------
def test_the_form_asks_for_every_field_the_standards_score(
    client: TestClient, market: Settings
) -> None:
    as_user(client, NEWCO_USER, "zh-CN")
    form = page(client, "/providers").select_one("#apply-form")
    assert form is not None
    scored = {
        c for s in Configs.of(market).ecosystem.admission.standards.values() for c in s.criteria
    }
    assert {"cases", "years_operating"} <= scored
    for criterion in scored:
        field = form.select_one(f'[name="{CRITERION_FIELD[criterion]}"]')
        assert field is not None, criterion
        assert field.has_attr("required"), criterion
    assert form.select_one('[name="founded_at"]')["type"] == "date"
    assert form.select_one('[name="team_size"]')["min"] == "0"
    label = form.select_one('label[for="a-cases"]').get_text(" ", strip=True)
    assert label.startswith(t("providers.form.field.cases", "zh-CN"))


@pytest.mark.parametrize("lang", LANGS)
def test_a_bad_application_comes_back_as_the_form_with_field_messages(
    client: TestClient, lang: str
) -> None:
    as_user(client, NEWCO_USER, lang)
    bad = GOOD | {
        "team_size": "-3",
        "gmv_served_12m": "很多",
        "founded_at": "2999-01-01",
        "capabilities": [],
    }
    r = client.post("/applications", data=bad, follow_redirects=False)
    assert r.status_code == 422
    assert '{"' not in r.text and '"detail"' not in r.text and "greater_than_equal" not in r.text
    soup = BeautifulSoup(r.text, "html.parser")
    form = soup.select_one("#apply-form")
    assert form is not None
    assert form.select_one("#err-team_size").get_text(strip=True) == t(
        "providers.form.error.greater_than_equal", lang, ge="0"
    )
    assert form.select_one("#a-team")["aria-invalid"] == "true"
    assert form.select_one("#err-gmv_served_12m").get_text(strip=True) == t(
        "providers.form.error.decimal_parsing", lang
    )
    assert form.select_one("#err-founded_at").get_text(strip=True) == t(
        "providers.form.error.date_in_future", lang
    )
    assert form.select_one("#err-capabilities").get_text(strip=True) == t(
        "providers.form.error.too_short", lang, min_length="1"
    )
    # What the user typed is kept.
    assert form.select_one("#a-name")["value"] == GOOD["name"]
    assert form.select_one("#a-cases").get_text() == GOOD["cases"]
    assert soup.select_one("#form-error").get_text(strip=True) == t(
        "providers.form.fix_fields", lang
    )
    assert (
        offences(
            r.text, lang, {GOOD["name"], NEWCO, NEWCO_USER, *GOOD["cases"].splitlines(), "很多"}
        )
        == []
    )


def test_a_good_application_lands_with_the_systems_proposal(
    client: TestClient, market: Settings
) -> None:
    as_user(client, NEWCO_USER, "zh-CN")
    r = client.post("/applications", data=GOOD, follow_redirects=False)
    assert r.status_code == 303, r.text
    soup = page(client, r.headers["location"])
    assert soup.select_one("#h-verdict").get_text(strip=True).startswith("系统建议")
    assert soup.select_one("#proposal").get_text(strip=True) == name("outcome", "admitted", "zh-CN")
    criteria = {tr["data-criterion"]: tr.select("td") for tr in soup.select("#criteria tbody tr")}
    assert criteria["cases"][0].get_text(strip=True) == "3"
    years = (date.today() - date(2019, 5, 1)).days / 365.25
    assert criteria["years_operating"][0].get_text(strip=True) == t(
        "providers.years", "zh-CN", value=numbers.decimal(years, 1, "zh-CN")
    )
    assert criteria["gmv_served_12m"][0].get_text(strip=True) == "¥6000万"
    assert len(soup.select("#cases li")) == 3
    with store.open_session(store.engine_for(market)) as s:
        assert store.get_provider(s, provider_id=NEWCO).categories == ["beauty", "food"]


def test_a_provider_sees_its_own_applications_only(client: TestClient, market: Settings) -> None:
    as_user(client, "admin", "en")
    other = GOOD | {"provider_id": "OTHERCO", "name": "Other Co"}
    r = client.post("/applications", data=other, follow_redirects=False)
    assert r.status_code == 303
    others = r.headers["location"]
    as_user(client, NEWCO_USER, "en")
    client.post("/applications", data=GOOD, follow_redirects=False)
    soup = page(client, "/providers", "en")
    mine = soup.select("#my-applications tbody tr")
    with store.open_session(store.engine_for(market)) as s:
        own = providers.provider_applications(s, workspace_admin("test"), NEWCO)
    assert [tr.select_one("a")["href"] for tr in mine] == [
        f"/applications/{a.application.id}" for a in own
    ]
    assert others not in str(soup)
    assert {tr.select("td")[2].get_text(strip=True) for tr in mine} <= {
        name("application_status", "pending", "en"),
        *(
            t("providers.decided_as", "en", outcome=name("outcome", o, "en"))
            for o in ("admitted", "probation", "rejected")
        ),
    }
    assert client.get(others).status_code == 404
    assert soup.select_one("#queue") is None


def test_an_admitted_provider_is_not_offered_the_form(client: TestClient, market: Settings) -> None:
    pid = own_provider(market)
    as_user(client, "provider", "zh-CN")
    soup = page(client, "/providers")
    assert soup.select_one("#apply-form") is None
    with store.open_session(store.engine_for(market)) as s:
        status = store.get_provider(s, provider_id=pid).status
    assert soup.select_one("#in-standing").get_text(strip=True) == t(
        "providers.in_standing", "zh-CN", status=name("provider_status", status, "zh-CN")
    )


@pytest.mark.parametrize("lang", LANGS)
def test_the_provider_pages_speak_words(client: TestClient, market: Settings, lang: str) -> None:
    """The raw-code scan on the evaluated pages (history, parts, proposals, clients) and on
    an application's decision page."""
    with store.open_session(store.engine_for(market)) as s:
        names = {p.name for p in store.list_providers(s)} | {
            p.provider_id for p in store.list_providers(s)
        }
        pending = store.review_queue(s)
    with open_warehouse(market) as wh:
        names |= set(wh.execute(wh.table("brands").select("name"))["name"].astype(str))
    as_user(client, "admin", lang)
    urls = [f"/providers/{own_provider(market)}", "/providers"]
    urls += [f"/applications/{a.id}" for a, _ in pending[:1]]
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200
        names |= set(GOOD["cases"].splitlines())
        assert offences(r.text, lang, names | {"admin", "test"}) == [], url
