"""The windmaker plan's page (/plan) on the diagnosed simulated market, as each role.

A copy of the market's workspace has its providers evaluated for every month (the evaluation
use case, as the main job's provider step runs it), so the tests change no store the other
tests read. Admins see the budget form, propose an allocation through it, read the lines per
provider with their reasons and the tier forecast with its chart, in zh-CN and English, and
confirm it (audited); operators, providers and brands get the not-found page.

Known answer: the page shows the proposal's own numbers (the use case's record, formatted by
``windmaker.numbers``), and no code, ``None`` or ``nan`` reaches the screen.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.web.conftest import csrf_token, login
from tests.web.test_vocabulary import offences
from windmaker import store
from windmaker.api.app import create_app
from windmaker.config import Settings
from windmaker.config.settings import load_settings
from windmaker.numbers import count, money
from windmaker.services import allocation as service
from windmaker.services import providers
from windmaker.services.configs import Configs
from windmaker.services.identity import workspace_admin
from windmaker.workspace import open_warehouse

#: Third-party deprecations raised inside ibis' DuckDB backend (not windmaker code).
pytestmark = [
    pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string':DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]

#: What must never reach the screen: a code, a missing value, a catalogue key.
RAW = re.compile(r"\b(None|nan|NaN)\b|\ballocation\.|\bplan\.[a-z]|\breason\.|\b[a-z]+_[a-z]+\b")


@pytest.fixture(scope="module")
def market(web_market: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("plan") / "ws"
    shutil.copytree(web_market.workspace, folder)
    settings = load_settings(folder)
    engine = store.engine_for(settings)
    with open_warehouse(settings) as wh, store.open_session(engine) as s:
        runs = providers.evaluate_months(s, wh, Configs.of(settings), workspace_admin("test"))
    engine.dispose()
    assert runs and any(e.metrics.get("client_uplift_year") for r in runs for e in r.evaluations)
    return settings


@pytest.fixture(scope="module")
def client(market: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(market)) as c:
        yield c


def _latest(market: Settings) -> service.AllocationRecord:
    with store.open_session(store.engine_for(market)) as s:
        found = service.latest_allocation(s, workspace_admin("test"))
    assert found is not None
    return found


def _screen_text(soup: BeautifulSoup) -> str:
    """What a person reads: the page's text, without the chart's JSON attribute."""
    main = soup.select_one("main")
    assert main is not None
    return main.get_text(" ")


def test_admin_proposes_through_the_form_and_reads_it(client: TestClient, market: Settings) -> None:
    login(client, "admin")
    client.cookies.set("wm_lang", "zh-CN")
    page = client.get("/plan")
    assert page.status_code == 200, page.text
    soup = BeautifulSoup(page.text, "html.parser")
    form = soup.select_one("form#budget-form")
    assert form is not None and form.select_one('input[name="csrf_token"]')["value"]
    assert soup.select_one("#no-proposal") is not None
    assert soup.select_one('nav a[href="/plan"][aria-current="page"]') is not None

    r = client.post(
        "/plan",
        data={
            "funds": "300万",
            "traffic": "10亿",
            "periods": "6",
            "start": "",
            "csrf_token": csrf_token(client, "/plan"),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    record = _latest(market)
    assert r.headers["location"] == f"/plan?allocation={record.id}#proposal"
    assert record.funds_per_period == (3e6,) * 6 and record.traffic_per_period == (1e9,) * 6
    assert record.providers_funded > 0


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_page_shows_lines_reasons_and_the_forecast(
    client: TestClient, market: Settings, lang: str
) -> None:
    login(client, "admin")
    client.cookies.set("wm_lang", lang)
    record = _latest(market)
    page = client.get(f"/plan?allocation={record.id}")
    assert page.status_code == 200, page.text
    soup = BeautifulSoup(page.text, "html.parser")
    rows = soup.select("#lines tbody tr")
    shares = record.by_provider()
    assert [r["data-provider"] for r in rows] == [s.provider_id for s in shares]
    first = rows[0].select("td")
    assert first[1].get_text(strip=True) == money(shares[0].funds, lang)
    assert first[2].get_text(strip=True) == count(shares[0].traffic, lang)
    assert all(r.select_one("td.reason").get_text(strip=True) for r in rows)
    assert soup.select_one("#totals").get_text(" ").count(money(record.funds, lang)) == 1
    tiers = soup.select("#tiers tbody tr")
    assert [t["data-tier"] for t in tiers] == ["gmv_1b", "gmv_100m"]
    chart = soup.select_one("#forecast .chart")
    assert chart is not None
    option = json.loads(chart["data-chart"])
    assert len(option["xAxis"]["data"]) == 2 and len(option["series"]) == 5
    assert [d["value"] for d in option["series"][0]["data"]] == [x.now for x in record.tiers]
    assert soup.select_one("form#decision-form button[value=confirmed]") is not None
    text = _screen_text(soup)
    assert not RAW.search(text), RAW.search(text)
    legend = " ".join(option["legend"]["data"] + option["xAxis"]["data"])
    assert not RAW.search(legend), legend
    assert ("待确认" if lang == "zh-CN" else "Awaiting a decision") in text


def test_confirm_from_the_page_is_audited(client: TestClient, market: Settings) -> None:
    login(client, "admin")
    client.cookies.set("wm_lang", "en")
    with store.open_session(store.engine_for(market)) as s:
        record = service.propose_allocation(
            s,
            Configs.of(market),
            workspace_admin("admin"),
            funds_per_period=1e6,
            traffic_per_period=5e8,
            periods=2,
        )
    r = client.post(
        f"/plan/{record.id}/decision",
        data={"outcome": "confirmed", "note": "go", "csrf_token": csrf_token(client, "/plan")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = BeautifulSoup(client.get(f"/plan?allocation={record.id}").text, "html.parser")
    decided = page.select_one("#decided").get_text(" ", strip=True)
    assert decided.startswith("Confirmed by admin") and decided.endswith("go")
    assert page.select_one("form#decision-form") is None
    with store.open_session(store.engine_for(market)) as s:
        audit = store.list_audit(s, subject_type="plan_allocation", subject_id=str(record.id))
    assert [(a.action, a.actor, a.reason) for a in audit][-1] == (
        "allocation.confirmed",
        "admin",
        "go",
    )
    again = client.post(
        f"/plan/{record.id}/decision",
        data={"outcome": "rejected", "csrf_token": csrf_token(client, "/plan")},
    )
    assert again.status_code == 409


def test_a_bad_budget_comes_back_with_its_fields_marked(client: TestClient) -> None:
    login(client, "admin")
    client.cookies.set("wm_lang", "en")
    r = client.post(
        "/plan",
        data={
            "funds": "plenty",
            "traffic": "1亿",
            "periods": "99",
            "csrf_token": csrf_token(client, "/plan"),
        },
    )
    assert r.status_code == 422
    soup = BeautifulSoup(r.text, "html.parser")
    assert soup.select_one("#err-funds") is not None and soup.select_one("#err-periods")
    assert soup.select_one("#err-traffic") is None
    assert soup.select_one("#b-funds")["value"] == "plenty"


@pytest.mark.parametrize("username", ["operator", "provider", "brand"])
def test_other_roles_get_not_found(client: TestClient, market: Settings, username: str) -> None:
    with store.open_session(store.engine_for(market)) as s:
        record = service.propose_allocation(
            s,
            Configs.of(market),
            workspace_admin("admin"),
            funds_per_period=1e6,
            traffic_per_period=5e8,
            periods=1,
        )
    login(client, username)
    assert client.get("/plan").status_code == 404
    assert client.get(f"/plan?allocation={record.id}").status_code == 404
    token = csrf_token(client, "/plan")
    r = client.post("/plan", data={"funds": "1万", "traffic": "1亿", "csrf_token": token})
    assert r.status_code == 404
    r = client.post(
        f"/plan/{record.id}/decision", data={"outcome": "rejected", "csrf_token": token}
    )
    assert r.status_code == 404
    home = BeautifulSoup(client.get("/cases").text, "html.parser")
    assert home.select_one('nav a[href="/plan"]') is None
    assert _latest(market).status == record.status


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_page_speaks_words(client: TestClient, market: Settings, lang: str) -> None:
    """The vocabulary check every page meets (tests/web/test_vocabulary.py): no raw code, no
    None or NaN, no unrounded number in the chart, and no English on the Chinese page."""
    login(client, "admin")
    client.cookies.set("wm_lang", lang)
    html = client.get(f"/plan?allocation={_latest(market).id}").text
    with store.open_session(store.engine_for(market)) as s:
        names = {p.name for p in store.list_providers(s)} | {"admin", "test"}
    assert offences(html, lang, names) == []


def test_forms_without_the_csrf_token_change_nothing(client: TestClient, market: Settings) -> None:
    login(client, "admin")
    client.headers.pop("X-CSRF-Token", None)  # a browser form sends the token in its body only
    before = _latest(market)
    r = client.post("/plan", data={"funds": "1万", "traffic": "1亿"}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post(
        f"/plan/{before.id}/decision",
        data={"outcome": "rejected", "csrf_token": "0" * 64},
        follow_redirects=False,
    )
    assert r.status_code == 403
    after = _latest(market)
    assert (after.id, after.status) == (before.id, before.status)
