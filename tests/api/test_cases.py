"""The case library's endpoints on a copy of the diagnosed simulated market, called as the demo
users of every role.

Known answers: every number the API serves is recomputed by the queries of
:mod:`tests.case_library` (``STEPS_SQL``, ``METRICS_SQL``, ``SCORES_SQL``, ``BOTTLENECK_SQL``,
the store's ``ASSIGNMENTS_SQL``, ``ACTIONS_SQL`` and ``MOVES_SQL``); no id or name of a brand
that has not consented (``BRANDS_SQL``) is in any answer, read as the brand role and as the
provider role; only the brand itself or an admin gives consent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.case_library import copy_market, identities, no_identity, reproduce, steps_by_id
from tests.conftest import DEMO_PASSWORD
from windmaker import store
from windmaker.api.app import create_app
from windmaker.config import Settings
from windmaker.growth.cases import case_id
from windmaker.services import cases
from windmaker.services.configs import Configs
from windmaker.store.consents import case_key
from windmaker.views.cases import case_source
from windmaker.views.evidence import plan_stories
from windmaker.workspace import open_warehouse

ROLES = ("admin", "operator", "provider", "brand")


@pytest.fixture(scope="module")
def market(web_market: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return copy_market(web_market, tmp_path_factory.mktemp("api-cases") / "ws")


@pytest.fixture(scope="module")
def client(market: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(market)) as c:
        yield c


@pytest.fixture(scope="module")
def tokens(client: TestClient) -> dict[str, str]:
    out = {}
    for name in ROLES:
        r = client.post("/api/v1/auth/login", json={"username": name, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        out[name] = r.json()["access_token"]
    return out


def get(client: TestClient, token: str, url: str) -> Any:
    r = client.get(url, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


def me(client: TestClient, token: str) -> dict[str, Any]:
    return get(client, token, "/api/v1/auth/me")  # type: ignore[no-any-return]


def test_every_number_the_api_serves_is_reproduced(
    client: TestClient, tokens: dict[str, str], market: Settings
) -> None:
    configs = Configs.of(market)
    config = cases.cases_config(configs)
    page = get(client, tokens["brand"], "/api/v1/cases?page_size=200")
    assert page["total"] == len(page["items"]) >= 1
    for item in page["items"]:
        reproduce(
            item,
            market,
            warmup=configs.ladder.hysteresis.warmup_periods,
            edges=config.size_bands,
            step=config.relative_step,
        )
        one = get(client, tokens["provider"], f"/api/v1/cases/{item['case_id']}")
        assert one == item


def test_no_brand_is_named_without_its_consent_as_brand_or_provider(
    client: TestClient, tokens: dict[str, str], market: Settings
) -> None:
    brands = identities(market)
    page = get(client, tokens["admin"], "/api/v1/cases?page_size=200")
    first = page["items"][0]

    def read_all(role: str) -> str:
        listed = get(client, tokens[role], "/api/v1/cases?page_size=200")
        each = [get(client, tokens[role], f"/api/v1/cases/{c['case_id']}") for c in listed["items"]]
        return json.dumps([listed, each], ensure_ascii=False)

    for role in ("brand", "provider"):
        no_identity(read_all(role), brands, named=set())
    # Whose case it is, recomputed from the store's key and the stage history.
    warmup = Configs.of(market).ladder.hysteresis.warmup_periods
    owner = steps_by_id(market, warmup)[first["case_id"]][0]
    client.put(
        f"/api/v1/brands/{owner}/consent", json={"consented": True}, headers=auth(tokens["admin"])
    )
    try:
        for role in ("brand", "provider"):
            text = read_all(role)
            no_identity(text, brands, named={owner})
            shown = get(client, tokens[role], f"/api/v1/cases/{first['case_id']}")
            assert (shown["brand_id"], shown["name"]) == (owner, brands[owner])
    finally:
        r = client.put(
            f"/api/v1/brands/{owner}/consent",
            json={"consented": False},
            headers=auth(tokens["admin"]),
        )
        assert r.json()["consented"] is False
    for role in ("brand", "provider"):
        no_identity(read_all(role), brands, named=set())


def test_consent_is_given_by_the_brand_itself_or_an_admin(
    client: TestClient, tokens: dict[str, str], market: Settings
) -> None:
    own = me(client, tokens["brand"])["brand_id"]
    others = [b for b in identities(market) if b != own]
    r = client.put(
        f"/api/v1/brands/{own}/consent", json={"consented": True}, headers=auth(tokens["brand"])
    )
    assert r.status_code == 200 and r.json()["set_by"] == "brand", r.text
    assert get(client, tokens["brand"], f"/api/v1/brands/{own}/consent")["consented"] is True
    r = client.put(
        f"/api/v1/brands/{others[0]}/consent",
        json={"consented": True},
        headers=auth(tokens["brand"]),
    )
    assert r.status_code == 404  # another brand is outside the brand user's scope
    for role in ("operator", "provider"):
        seen = get(client, tokens[role], "/api/v1/brands?page_size=500")["items"]
        assert seen, role
        r = client.put(
            f"/api/v1/brands/{seen[0]['brand_id']}/consent",
            json={"consented": True},
            headers=auth(tokens[role]),
        )
        assert r.status_code == 403, (role, r.text)
    r = client.put(
        f"/api/v1/brands/{own}/consent", json={"consented": False}, headers=auth(tokens["admin"])
    )
    assert r.status_code == 200 and r.json()["set_by"] == "admin"


def test_filters_are_checked_and_an_unknown_case_is_not_found(
    client: TestClient, tokens: dict[str, str]
) -> None:
    token = tokens["operator"]
    every = get(client, token, "/api/v1/cases?page_size=200")["items"]
    step = every[0]["step"]
    found = get(client, token, f"/api/v1/cases?step={step}&page_size=200")["items"]
    assert [c["case_id"] for c in found] == [c["case_id"] for c in every if c["step"] == step]
    for url in ("/api/v1/cases?step=ska", "/api/v1/cases?capability=charm"):
        assert client.get(url, headers=auth(token)).status_code == 422
    r = client.get("/api/v1/cases/C0000000000", headers=auth(token))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def linked_market(settings: Settings) -> None:
    """Two beauty brands over six months: P climbs out of zero-breaking in May (a case), and
    Q's plan quotes P as its peer for the same step."""
    months = [date(2026, m, 1) for m in range(1, 7)]
    stages = {"P": ["zero_breaking"] * 4 + ["climbing"] * 2, "Q": ["zero_breaking"] * 6}
    rows_stage, rows_month, rows_cap = [], [], []
    for brand, history in stages.items():
        for i, (p, stage) in enumerate(zip(months, history, strict=True)):
            rows_stage.append(
                {"brand_id": brand, "category": "beauty", "period": p, "stage": stage}
                | {
                    "candidate_stage": stage,
                    "reason_code": f"ladder.{stage}",
                    "reason_params": "{}",
                }
            )
            rows_month.append(
                {"brand_id": brand, "category": "beauty", "period": p}
                | {"net_gmv": Decimal(10_000 * (i + 1)), "net_gmv_t90d": 30_000.0 * (i + 1)}
                | {"self_share": 0.2 + 0.05 * i}
            )
            rows_cap.append(
                {"brand_id": brand, "category": "beauty", "period": p}
                | {"capability": "self_operation", "index": 0.0, "score": 10.0 * i}
            )
    evidence = {
        "step": "zero_breaking→climbing",
        "reference": "category",
        "advancers": 1,
        "peers": [{"brand_id": "P", "from": 0.2, "to": 0.4, "months": 4, "censored": True}],
    }
    plan = {
        "brand_id": "Q",
        "period": months[-1],
        "rank": 1,
        "action_id": "zb_regular_live",
        "capability": "self_operation",
        "metric": "self_share",
        "current": 0.45,
        "target": 0.5,
        "evidence": json.dumps(evidence),
        "direction": "higher",
    }
    brands = pd.DataFrame(
        {
            "brand_id": ["P", "Q"],
            "name": ["品牌P", "品牌Q"],
            "category": ["beauty", "beauty"],
            "origin": ["traditional", "traditional"],
            "joined_at": pd.to_datetime(["2025-01-01"] * 2),
        }
    )
    with open_warehouse(settings) as wh:
        wh.insert("brands", brands)
        wh.write("g_stage", pd.DataFrame(rows_stage))
        wh.write("m_brand_month", pd.DataFrame(rows_month))
        wh.write("m_capability", pd.DataFrame(rows_cap))
        wh.write("g_plan", pd.DataFrame([plan]))


def test_plan_evidence_links_each_peer_to_its_case(workspace: Settings) -> None:
    """Known answer: P's step (zero-breaking in January, climbing in May) is the one case of the
    market; Q's plan story about P carries that case's id, keyed with the store's secret."""
    linked_market(workspace)
    with TestClient(create_app(workspace)) as client:
        rm = client.app.state.windmaker.readmodel  # type: ignore[attr-defined]
        stories = plan_stories(rm, "Q", None, "en")
        engine = store.engine_for(workspace)
        with store.open_session(engine) as session:
            configs = Configs.of(workspace)
            library = cases.library(session, configs, case_source(rm))
            secret = case_key(session)
        engine.dispose()
    [story] = stories["zb_regular_live"]
    [case] = library
    assert (case.brand_id, case.end_period) == ("P", date(2026, 5, 1))
    assert (
        story.case_id
        == case.case_id
        == case_id(secret, "P", "zero_breaking", "climbing", date(2026, 5, 1))
    )
    assert "品牌P" not in story.text
