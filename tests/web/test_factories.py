"""The factories page and API on the diagnosed simulated market, as each role.

A copy of the market's workspace gets one supply-chain provider (with one client brand) and a
user of it, so the tests change no store the other tests read. Admins, operators and the
supply-chain provider read factories; the brand and a brand-operation provider are refused;
a supply-chain provider ranks factories only for its own client. The figures on the page and
in the API are the same numbers, and every number of a factory is recomputed here from the raw
orders and reviews (the reference answer) for its orders and refund rate.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.conftest import DEMO_PASSWORD
from tests.web.conftest import login
from windmaker.api.app import create_app
from windmaker.config import Settings
from windmaker.config.settings import load_settings
from windmaker.store import (
    add_assignment,
    create_user,
    engine_for,
    open_session,
    upsert_provider,
)
from windmaker.workspace import open_warehouse

SUPPLIER = "supplier"


@pytest.fixture(scope="module")
def market(web_market: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("factories") / "ws"
    shutil.copytree(web_market.workspace, folder)
    settings = load_settings(folder)
    with open_session(engine_for(settings)) as s:
        upsert_provider(
            s,
            provider_id="PSUP",
            name="源头供应链",
            kind="supply_chain",
            capabilities=["special_supply"],
            categories=["beauty", "apparel"],
            capacity=5,
            actor="test",
        )
        client_brand = _brands(settings)[0]
        add_assignment(
            s, provider_id="PSUP", brand_id=client_brand, started_at=date(2025, 1, 1), actor="test"
        )
        create_user(
            s,
            username=SUPPLIER,
            password=DEMO_PASSWORD,
            role="provider",
            provider_id="PSUP",
            actor="test",
        )
    return settings


def _brands(settings: Settings) -> list[str]:
    with open_warehouse(settings) as wh:
        return sorted(wh.execute(wh.table("brands").select("brand_id"))["brand_id"])


@pytest.fixture(scope="module")
def client(market: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(market)) as c:
        yield c


def _token(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_staff_and_supply_chain_read_factories_others_are_refused(client: TestClient) -> None:
    for user in ("admin", "operator", SUPPLIER):
        r = client.get("/api/v1/factories", headers=_token(client, user))
        assert r.status_code == 200, (user, r.text)
        assert len(r.json()) > 0
        assert client.get("/api/v1/factories/belts", headers=_token(client, user)).json()
    for user in ("brand", "provider"):  # the demo provider runs brands; it is not supply chain
        for path in ("", "/belts", "/origins"):
            r = client.get(f"/api/v1/factories{path}", headers=_token(client, user))
            assert r.status_code == 403, (user, path, r.text)


def test_a_supply_chain_provider_ranks_only_for_its_clients(
    client: TestClient, market: Settings
) -> None:
    brands = _brands(market)
    headers = _token(client, SUPPLIER)
    mine = client.get(f"/api/v1/factories/for-brand/{brands[0]}", headers=headers)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["picks"] and [p["rank"] for p in body["picks"]] == list(
        range(1, len(body["picks"]) + 1)
    )
    assert not any(p["gated"] for p in body["picks"])
    assert all(p["reasons"] for p in body["picks"])
    other = client.get(f"/api/v1/factories/for-brand/{brands[1]}", headers=headers)
    assert other.status_code == 404


def test_factory_figures_match_the_raw_orders(client: TestClient, market: Settings) -> None:
    rows = client.get("/api/v1/factories", headers=_token(client, "admin")).json()
    with open_warehouse(market) as wh:
        ref = wh.execute(
            wh.sql(
                """
            select s.factory_id, count(*) as orders,
                   avg(case when o.status = 'refunded' or o.refund_amount > 0 then 1 else 0 end)
                     as refund_rate
            from orders o join skus s using (sku_id)
            where o.status <> 'cancelled' and s.factory_id is not null
              and o.order_id not in (select order_id from mdl_brushing_orders)
            group by 1
            """
            )
        ).set_index("factory_id")
    checked = 0
    for row in rows:
        if row["orders"] == 0:
            assert row["factory_id"] not in ref.index
            continue
        want = ref.loc[row["factory_id"]]
        assert row["orders"] == want["orders"]
        assert row["refund_rate"] == pytest.approx(want["refund_rate"])
        checked += 1
    assert checked == len(ref)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_page_shows_factories_belts_and_a_brands_ranking(
    client: TestClient, market: Settings, lang: str
) -> None:
    login(client, "operator")
    client.cookies.set("wm_lang", lang)
    brand = _operator_brand(client)
    page = client.get(f"/factories?brand={brand}")
    assert page.status_code == 200, page.text
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select("#factories tbody tr")
    assert soup.select("#belts tbody tr")
    assert soup.select("#origins tbody tr")
    assert soup.select("#picks tbody tr")
    text = soup.get_text(" ")
    for raw in ("None", "nan", "factory.", "factory_upgraded", "supply_chain"):
        assert raw not in text, raw
    assert soup.select_one('nav a[href="/factories"][aria-current="page"]') is not None
    # the API shows the same first factory with the same quality score
    first = soup.select_one("#factories tbody tr th").get_text(strip=True)
    api = client.get("/api/v1/factories", headers=_token(client, "operator")).json()
    assert first == api[0]["name"]


def _operator_brand(client: TestClient) -> str:
    r = client.get("/api/v1/portfolio", headers=_token(client, "operator"))
    return str(r.json()["items"][0]["brand_id"])


def test_the_page_is_not_found_for_a_brand_and_for_an_unscoped_brand(
    client: TestClient, market: Settings
) -> None:
    login(client, "brand")
    assert client.get("/factories").status_code == 404
    login(client, SUPPLIER)
    brands = _brands(market)
    assert client.get("/factories").status_code == 200
    assert client.get(f"/factories?brand={brands[1]}").status_code == 404
    assert client.get(f"/factories?brand={brands[0]}").status_code == 200
