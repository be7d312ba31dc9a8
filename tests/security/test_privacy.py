"""Privacy for brand users (issue finding Medium 5): no competitor's figures, no peer ids.

The market of ``tests/api/factories.py`` has a two-brand category: B1 and B2 are ``beauty``,
and the brand user ``b2`` sees B2. Planted truth: B1's latest STEPS scores are set to values
that appear nowhere else (``B1_SCORES``), so the category median of the two brands is a known
answer (``MEDIANS``, the mean of B1's and B2's) and B1's scores follow from it and B2's own.
B2's stage reason carries a planted category repurchase median and its bottleneck a category
reference. The brand user must read none of these from the API scorecard, radar, diagnosis and
stage history, the brand page or the report; an admin reads them all, and with ``k`` at 2 the
brand user reads the median too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.api.factories import PASSWORD, PERIODS
from windmaker.api.app import create_app
from windmaker.config import Settings
from windmaker.views.privacy import peer_summary
from windmaker.views.records import PeerStep
from windmaker.workspace import open_warehouse

LATEST = PERIODS[-1]
#: B1's planted scores, S T E P S; B2's are 1, 21, 41, 61, 81 (the factory's).
B1_SCORES = (13.37, 27.91, 44.44, 58.62, 71.19)
B2_SCORES = (1.0, 21.0, 41.0, 61.0, 81.0)
MEDIANS = tuple(round((a + b) / 2, 3) for a, b in zip(B1_SCORES, B2_SCORES, strict=True))
#: The category's repurchase median in B2's stage reason (41.37%) and a bottleneck reference.
REPURCHASE_MEDIAN = 0.4137
METRIC_REFERENCE = 0.3719


def _plant(settings: Settings) -> None:
    with open_warehouse(settings) as wh:
        caps = wh.execute(wh.table("m_capability"))
        for score, cap in zip(
            B1_SCORES,
            ("self_operation", "traffic", "distribution", "private_domain", "special_supply"),
            strict=True,
        ):
            hit = (caps["brand_id"] == "B1") & (caps["capability"] == cap)
            caps.loc[hit, "score"] = score
        wh.write("m_capability", caps)
        stage = wh.execute(wh.table("g_stage"))
        params = {
            "category": "beauty",
            "candidate": "ka",
            "net_gmv_t90d": 2e6,
            "ka_gmv_ok": True,
            "ka_top_share": 0.1,
            "top_share": 0.05,
            "category_brands": 2,
            "ka_repurchase_ok": True,
            "repurchase_rate_90d": 0.5,
            "repurchase_median": REPURCHASE_MEDIAN,
            "ka_self_ok": True,
            "self_share": 0.4,
            "ka_min_self_share": 0.3,
        }
        stage.loc[stage["brand_id"] == "B2", "reason_params"] = json.dumps(params)
        wh.write("g_stage", stage)
        bott = wh.execute(wh.table("g_bottleneck"))
        bott["metric"] = "repurchase_rate_90d"
        bott["metric_value"] = 0.2
        bott["metric_reference"] = METRIC_REFERENCE
        bott["weakness"] = True
        bott["metric_basis"] = "category"
        wh.write("g_bottleneck", bott)


def _login_web(client: TestClient, username: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="(csrf[^"]*)" value="([^"]+)"', page)
    data = {"username": username, "password": PASSWORD}
    if token:
        data[token.group(1)] = token.group(2)
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text


def _token(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def planted(market: Settings) -> Settings:
    _plant(market)
    return market


@pytest.fixture
def client(planted: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(planted)) as c:
        yield c


def _responses(client: TestClient, username: str) -> dict[str, str]:
    """Every answer about B2 a user reads: the API's, the brand page and the report."""
    headers = _token(client, username)
    out = {
        path: client.get(f"/api/v1/brands/B2{path}", headers=headers).text
        for path in ("", "/radar", "/diagnosis", "/stages")
    }
    _login_web(client, username)
    out["page"] = client.get("/brands/B2").text
    out["report"] = client.get("/reports/brands/B2").text
    return out


def _leaks(text: str) -> list[str]:
    numbers = [*B1_SCORES, *MEDIANS]
    found = [f"{v:g}" for v in numbers if re.search(rf"(?<![\d.]){v:g}(?!\d)", text)]
    found += [
        w for w in ("41.4%", "41.37", "37.2%", "0.3719", "0.4137", "B4", "花西子Demo") if w in text
    ]
    return found


def test_brand_user_cannot_read_the_competitors_scores_in_a_two_brand_category(
    client: TestClient,
) -> None:
    """Planted truth: B1's scores and the two-brand medians appear in no answer to ``b2``;
    the same answers to ``admin`` show the median (so the check can find what it looks for)."""
    answers = _responses(client, "b2")
    for where, text in answers.items():
        assert answers[where] and not _leaks(text), (where, _leaks(text))
    radar = json.loads(answers["/radar"])
    assert radar["brand"] == list(B2_SCORES)
    assert radar["category_median"] == [None] * 5
    diagnosis = json.loads(answers["/diagnosis"])
    evidence = diagnosis["plan"][0]["evidence"]
    # the factory's peer B4 went from 0.2 to 0.4 self share: +20 points, shown as 20–25
    assert evidence["peers"] == []
    assert evidence["summary"]["brands"] == 1
    assert (evidence["summary"]["low"], evidence["summary"]["high"]) == (20.0, 25.0)
    assert diagnosis["bottlenecks"][0]["metric_reference"] is None

    admin = _token(client, "admin")
    seen = client.get("/api/v1/brands/B2/radar", headers=admin).json()
    assert [round(v, 3) for v in seen["category_median"]] == list(MEDIANS)
    peers = client.get("/api/v1/brands/B2/diagnosis", headers=admin).json()["plan"][0]
    assert peers["evidence"]["peers"][0]["brand_id"] == "B4"
    stage = client.get("/api/v1/brands/B2", headers=admin).json()["stage"]
    assert "41.4%" in stage["reason_en"]


def test_median_is_shown_to_a_brand_user_when_the_category_has_k_brands(
    planted: Settings,
) -> None:
    """With ``privacy_min_category_brands`` 2 the two-brand category is large enough: the
    brand user reads the known median of B1 and B2; peer ids stay hidden at any k."""
    settings = planted.model_copy(update={"privacy_min_category_brands": 2})
    with TestClient(create_app(settings)) as c:
        headers = _token(c, "b2")
        radar = c.get("/api/v1/brands/B2/radar", headers=headers).json()
        plan = c.get("/api/v1/brands/B2/diagnosis", headers=headers).json()["plan"]
    assert [round(v, 3) for v in radar["category_median"]] == list(MEDIANS)
    assert all(a["evidence"]["peers"] == [] for a in plan)


def test_peer_summary_brackets_the_median_change() -> None:
    """Known answer: peers' repurchase moved +4, +7 and +12 points; the median, 7, is shown
    as 5–10 points. A fall of 10% in GMV (100 → 90) reads as falling by 10–15%."""
    peers = [
        PeerStep(brand_id=b, **{"from": f, "to": t})
        for b, f, t in (("X", 0.10, 0.14), ("Y", 0.20, 0.27), ("Z", 0.30, 0.42))
    ]
    s = peer_summary("repurchase_rate_90d", peers)
    assert (s.brands, s.unit, s.low, s.high) == (3, "points", 5.0, 10.0)
    assert (s.text_en or "").startswith("3 brands made this step; their ")
    assert (s.text_en or "").endswith(" rose by 5–10 points")
    assert "提升了 5–10 个百分点" in (s.text_zh or "")
    fell = peer_summary("net_gmv", [PeerStep(brand_id="X", **{"from": 100.0, "to": 90.0})])
    assert (fell.unit, fell.low, fell.high) == ("percent", -10.0, -5.0)
    assert "fell by 5–10%" in (fell.text_en or "")


def test_planted_values_are_what_the_warehouse_holds(planted: Settings) -> None:
    """The planted scores are B1's in the warehouse, so the leak check looks for real values."""
    with open_warehouse(planted) as wh:
        caps = wh.execute(wh.table("m_capability"))
    now = caps[(caps["brand_id"] == "B1") & (pd.to_datetime(caps["period"]).dt.date == LATEST)]
    assert sorted(now["score"]) == sorted(B1_SCORES)
