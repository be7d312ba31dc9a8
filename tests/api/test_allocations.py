"""The allocation endpoints on the small API market, its two admitted providers given a year of
evaluations: an admin proposes, reads, confirms (audited) and is refused a second decision;
every other role is refused every endpoint.

Known answer: P1's clients are measured to grow 4 % a month faster than their unserved peers and
P2's 4 % slower, on the same GMV; shrunk towards their mean (0), P2's uplift is below zero, so
the whole budget goes to P1 and P2's lines say it does not respond.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth
from windmaker import store
from windmaker.config import Settings

BUDGET = {"funds_per_period": 100_000, "traffic_per_period": 2e8, "periods": 3}


@pytest.fixture(scope="module")
def evaluated(market: Settings) -> None:
    """A year of evaluations of P1 (uplift +4 %/month) and P2 (−4 %), ¥1,000万 a month each."""
    engine = store.engine_for(market)
    with store.open_session(engine) as s:
        for pid, uplift in (("P1", 0.04), ("P2", -0.04)):
            for m in range(12):
                store.record_evaluation(
                    s,
                    provider_id=pid,
                    period=date(2025 + (m + 9) // 12, (m + 9) % 12 + 1, 1),
                    metrics={
                        "clients": 5,
                        "annual_gmv_served": "120000000",
                        "client_uplift_year": uplift,
                    },
                    gmv_served="10000000",
                    score=0.0,
                    meets_standard=True,
                    severe_violation=False,
                    reasons=[],
                    actor="test",
                    commit=False,
                )
        s.commit()
    engine.dispose()


def test_admin_proposes_reads_and_confirms(
    client: TestClient, tokens: dict[str, str], market: Settings, evaluated: None
) -> None:
    admin = auth(tokens["admin"])
    r = client.post("/api/v1/allocations", headers=admin, json=BUDGET)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "proposed" and body["created_by"] == "admin"
    assert body["periods"] == ["2026-10-01", "2026-11-01", "2026-12-01"]
    by_provider = {
        pid: [ln for ln in body["lines"] if ln["provider_id"] == pid] for pid in ("P1", "P2")
    }
    assert all(ln["funds"] == pytest.approx(100_000, abs=0.01) for ln in by_provider["P1"])
    assert all(ln["funds"] == 0 and ln["traffic"] == 0 for ln in by_provider["P2"])
    assert {ln["reason_code"] for ln in by_provider["P2"]} == {"allocation.no_response"}
    assert body["funds"] == pytest.approx(300_000, abs=0.05)
    for ln in body["lines"]:
        for text in (ln["reason"], ln["reason_zh"]):
            assert text and not re.search(r"\b[a-z]+_[a-z_]+\b|allocation\.|None|nan", text), text
    assert [x["code"] for x in body["tiers"]] == ["gmv_1b", "gmv_100m"]
    assert body["tiers"][1]["now"] == 2 and body["interval"] == 0.8
    listed = client.get("/api/v1/allocations", headers=admin).json()
    assert listed[0]["id"] == body["id"] and "lines" not in listed[0]
    one = client.get(f"/api/v1/allocations/{body['id']}", headers=admin).json()
    assert one["lines"] == body["lines"]

    r = client.post(
        f"/api/v1/allocations/{body['id']}/decision",
        headers=admin,
        json={"outcome": "confirmed", "note": "as proposed"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decided_by"]) == ("confirmed", "admin")
    again = client.post(
        f"/api/v1/allocations/{body['id']}/decision", headers=admin, json={"outcome": "rejected"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    with store.open_session(store.engine_for(market)) as s:
        audit = store.list_audit(s, subject_type="plan_allocation", subject_id=str(body["id"]))
    assert [(a.action, a.actor, a.reason) for a in audit] == [
        ("allocation.proposed", "admin", ""),
        ("allocation.confirmed", "admin", "as proposed"),
    ]
    assert (
        client.get("/api/v1/allocations?status=confirmed", headers=admin).json()[0]["id"]
        == (body["id"])
    )


@pytest.mark.parametrize("user", ["op", "p1", "b2"])
def test_other_roles_are_refused(client: TestClient, tokens: dict[str, str], user: str) -> None:
    headers = auth(tokens[user])
    for method, path, body in (
        ("POST", "/api/v1/allocations", BUDGET),
        ("GET", "/api/v1/allocations", None),
        ("GET", "/api/v1/allocations/1", None),
        ("POST", "/api/v1/allocations/1/decision", {"outcome": "confirmed"}),
    ):
        r = client.request(method, path, headers=headers, json=body)
        assert r.status_code == 403, (user, path, r.text)


@pytest.mark.parametrize(
    "body",
    [
        BUDGET | {"periods": 0},
        BUDGET | {"periods": 25},
        BUDGET | {"funds_per_period": -1},
        BUDGET | {"start": "1999-12-01"},
        {"funds_per_period": 1},
    ],
)
def test_an_invalid_budget_is_refused(
    client: TestClient, tokens: dict[str, str], body: dict[str, object]
) -> None:
    r = client.post("/api/v1/allocations", headers=auth(tokens["admin"]), json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation", r.text


def test_absent_allocations_are_not_found(client: TestClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    assert client.get("/api/v1/allocations/9999", headers=admin).status_code == 404
    r = client.post(
        "/api/v1/allocations/9999/decision", headers=admin, json={"outcome": "confirmed"}
    )
    assert r.status_code == 404
