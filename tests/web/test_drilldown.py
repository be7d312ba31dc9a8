"""The drill-down pages: the levels render, the driver tree multiplies out to the level's GMV
(checked against the raw tables), the labels follow the rule, scope holds, and the leak names
a live room or session that exists."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.web.conftest import login
from windmaker import contract, results
from windmaker.config import Settings
from windmaker.numbers import money
from windmaker.views.drilldown import drill_context
from windmaker.views.funnel import Entity, label, tree
from windmaker.views.readmodel import ReadModel
from windmaker.workspace import open_warehouse

EN = {"accept-language": "en"}
LABELS = {"Good", "Watch", "Weak", "No reference"}


def _soup(client: TestClient, url: str) -> BeautifulSoup:
    r = client.get(url, headers=EN)
    assert r.status_code == 200, f"{url}: {r.status_code}"
    return BeautifulSoup(r.text, "html.parser")


def _live_brand(client: TestClient, brands: set[str]) -> tuple[str, BeautifulSoup]:
    """A brand whose 30-day drill page lists own live rooms, and that page."""
    for b in sorted(brands):
        page = _soup(client, f"/brands/{b}/drill?days=30")
        if page.select("#children-account tbody tr"):
            return b, page
    raise AssertionError("no brand in scope has live rooms in the last 30 days")


# -- the labelling rule, on hand-chosen numbers -------------------------------------------------
@pytest.mark.parametrize(
    ("value", "own", "peer", "lower", "expected"),
    [
        (80.0, 100.0, 100.0, False, "bad"),  # 20% under both
        (95.0, 100.0, 100.0, False, "good"),  # 5% under both: inside the 10% threshold
        (80.0, 100.0, 70.0, False, "warning"),  # under its own level only
        (80.0, 75.0, 100.0, False, "warning"),  # under the peers only
        (80.0, None, 100.0, False, "warning"),  # one reference: at worst a warning
        (120.0, 100.0, 100.0, False, "good"),
        (None, 100.0, 100.0, False, "none"),
        (80.0, None, None, False, "none"),
        (0.20, 0.05, 0.06, True, "bad"),  # refund rate: more is worse
        (0.10, 0.05, 0.12, True, "warning"),
        (0.055, 0.05, 0.05, True, "good"),  # within the threshold and slack
    ],
)
def test_labels_follow_the_rule(
    value: float | None, own: float | None, peer: float | None, lower: bool, expected: str
) -> None:
    assert label(value, own, peer, lower_is_better=lower) == expected


def test_tree_multiplies_out() -> None:
    d = tree(uv=1200, watch_hours=300, orders=90, gmv=27_000)
    assert d["watch_hours_per_uv"] == 0.25 and d["orders_per_watch_hour"] == 0.3
    assert d["aov"] == 300 and d["gpm"] == 22_500
    assert tree(uv=0, watch_hours=0, orders=0, gmv=0)["aov"] is None


# -- pages --------------------------------------------------------------------------------------
def test_drill_levels_render_for_an_operator(web: TestClient, scopes: dict[str, set[str]]) -> None:
    login(web, "operator")
    brand_id, page = _live_brand(web, scopes["operator"])
    drivers = page.select("#drivers tbody tr")
    assert [r["data-driver"] for r in drivers] == [
        "uv",
        "watch_hours_per_uv",
        "orders_per_watch_hour",
        "aov",
        "gpm",
    ]
    assert {r.select_one(".pill").get_text() for r in drivers} <= LABELS
    assert "Last 30 days" in page.select_one("#drill-window").get_text()
    assert "30 days before" in page.select_one("#drill-references").get_text()
    crumbs = [a.get_text() for a in page.select(".crumbs a")]
    assert crumbs and crumbs[0]  # up to the brand page

    room = page.select_one("#children-account tbody tr th a")
    account = _soup(web, room["href"])
    assert room.get_text() in account.select_one("#drill-title").get_text()
    assert account.select(".crumbs a")[-1]["href"].startswith(f"/brands/{brand_id}/drill")
    first = account.select_one("#children-session tbody tr th a")
    assert first is not None, "a room with sessions in the window lists them"
    session = _soup(web, first["href"])
    assert session.select("#drivers tbody tr")
    assert room.get_text() in [a.get_text() for a in session.select(".crumbs a")]
    for tail in ("skus", "influencers"):
        listing = _soup(web, f"/brands/{brand_id}/drill/{tail}?days=30")
        assert listing.select_one(f"#h-{'sku' if tail == 'skus' else 'influencer'}")
    assert web.get(f"/brands/{brand_id}/drill/sessions/S-none", headers=EN).status_code == 404


def _raw_brand_tree(settings: Settings, brand_id: str, days: int) -> dict[str, float]:
    """The brand's live sums over the last ``days`` days, from the raw tables with pandas."""
    with open_warehouse(settings) as wh:
        sessions = wh.execute(wh.table(contract.LIVE_SESSIONS.name))
        accounts = wh.execute(wh.table(contract.ACCOUNTS.name))
        orders = wh.execute(wh.table(contract.ORDERS.name))
        brushed = (
            set(wh.execute(wh.table(results.BRUSHING_ORDERS))["order_id"])
            if wh.has_table(results.BRUSHING_ORDERS)
            else set()
        )
    end = datetime.combine(pd.Timestamp(orders["paid_at"].max()).date(), datetime.min.time())
    end += timedelta(days=1)
    start = end - timedelta(days=days)
    own = set(
        accounts.loc[
            (accounts["brand_id"] == brand_id)
            & accounts["kind"].isin(["brand_main", "brand_matrix"]),
            "account_id",
        ]
    )
    s = sessions[(sessions["started_at"] >= start) & (sessions["started_at"] < end)]
    s = s[s["account_id"].isin(own) | (s["dedicated_brand_id"] == brand_id)]
    o = orders[
        (orders["brand_id"] == brand_id)
        & (orders["status"] != "cancelled")
        & orders["session_id"].isin(set(s["session_id"]))
        & ~orders["order_id"].isin(brushed)
    ]
    return {
        "uv": float(s["viewers"].sum()),
        "watch_hours": float(s["watch_seconds"].sum()) / 3600,
        "orders": float(len(o)),
        "gmv": float((o["amount"].astype(float) - o["refund_amount"].astype(float)).sum()),
    }


def test_the_tree_multiplies_out_to_the_brands_live_gmv(
    web: TestClient, web_market: Settings, scopes: dict[str, set[str]]
) -> None:
    login(web, "operator")
    brand_id, page = _live_brand(web, scopes["operator"])
    raw = _raw_brand_tree(web_market, brand_id, 30)
    assert raw["orders"] > 0
    with open_warehouse(web_market) as wh:
        ctx = drill_context(ReadModel.of(wh), wh, brand_id, "en", days=30)
    me: Entity = ctx["entity"]
    d = {x.key: x.value for x in me.drivers}
    product = d["uv"] * d["watch_hours_per_uv"] * d["orders_per_watch_hour"] * d["aov"]
    assert product == pytest.approx(raw["gmv"], abs=0.01)
    assert d["uv"] == raw["uv"]
    assert d["gpm"] == pytest.approx(raw["gmv"] / raw["uv"] * 1000)
    # The page prints that GMV, formatted, at the head of its formula.
    assert (
        page.select_one("#drill-formula").get_text().startswith(f"GMV {money(raw['gmv'], 'en')} =")
    )


def test_the_leak_names_an_existing_room_and_session(
    web: TestClient, web_market: Settings, scopes: dict[str, set[str]]
) -> None:
    login(web, "admin")
    with open_warehouse(web_market) as wh:
        accounts = wh.execute(wh.table(contract.ACCOUNTS.name)).set_index("account_id")
        sessions = wh.execute(wh.table(contract.LIVE_SESSIONS.name)).set_index("session_id")
    named = 0
    for b in sorted(scopes["admin"]):
        for days in (7, 30):
            page = _soup(web, f"/brands/{b}/drill?days={days}")
            for item in page.select("#leaks li"):
                link = item.select_one("a")
                href = link["href"].split("?")[0]
                if "/drill/accounts/" not in href:
                    continue
                account_id = href.rsplit("/", 1)[-1]
                assert account_id in accounts.index
                assert accounts.loc[account_id, "name"] in link.get_text()
                assert " below its 30-day level on " in link.get_text()
                if accounts.loc[account_id, "kind"] != "influencer":
                    assert accounts.loc[account_id, "brand_id"] == b
                    behind = item.select_one("a.leak-session")
                    assert behind is not None
                    session_id = behind["href"].split("?")[0].rsplit("/", 1)[-1]
                    assert sessions.loc[session_id, "account_id"] == account_id
                    assert web.get(behind["href"], headers=EN).status_code == 200
                named += 1
        if named >= 3:
            break
    assert named > 0, "no brand's drill-down named a live room or influencer"


def test_a_brand_user_cannot_drill_into_another_brand(
    web: TestClient, scopes: dict[str, set[str]]
) -> None:
    login(web, "brand")
    (mine,) = scopes["brand"]
    other = sorted(scopes["admin"] - {mine})[0]
    assert web.get(f"/brands/{mine}/drill", headers=EN).status_code == 200
    for tail in ("", "/skus", "/influencers", "/accounts/A0000001", "/sessions/S000000001"):
        r = web.get(f"/brands/{other}/drill{tail}", headers=EN)
        assert r.status_code == 404, tail
    # An account of another brand is not found under the user's own brand either.
    login(web, "admin")
    page = _soup(web, f"/brands/{other}/drill?days=30")
    rooms = page.select("#children-account tbody tr")
    if rooms:
        login(web, "brand")
        room = rooms[0]["data-entity"]
        assert web.get(f"/brands/{mine}/drill/accounts/{room}", headers=EN).status_code == 404
