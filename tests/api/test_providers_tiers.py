"""``GET /api/v1/tiers``: the windmaker-plan board from the read model, typed in the OpenAPI
schema, with the JSON field names clients already read.

Known answer: the factory market's two admitted providers declared ¥150,000,000 served each
and were never evaluated, so with the shipped tiers (¥100M, target 200; ¥1B, target 100) both
sit in the ¥100M tier, ¥850,000,000 (progress 0.15) short of the ¥1B tier.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth

TIER_FIELDS = {
    "code",
    "name_en",
    "name_zh",
    "threshold",
    "target",
    "in_tier",
    "at_or_above",
    "progress",
}
STANDING_FIELDS = {
    "provider_id",
    "annual_gmv_served",
    "tier",
    "next_tier",
    "gap_to_next",
    "progress_to_next",
}


def board(client: TestClient, token: str) -> dict:  # type: ignore[type-arg]
    r = client.get("/api/v1/tiers", headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_admin_sees_every_standing_against_the_targets(
    client: TestClient, tokens: dict[str, str]
) -> None:
    body = board(client, tokens["admin"])
    assert set(body) == {"tiers", "closest", "standings"}
    assert all(set(row) == TIER_FIELDS for row in body["tiers"])
    tiers = {row["code"]: row for row in body["tiers"]}
    assert tiers["gmv_100m"] | {"name_en": None, "name_zh": None} == {
        "code": "gmv_100m",
        "name_en": None,
        "name_zh": None,
        "threshold": 100_000_000.0,
        "target": 200,
        "in_tier": 2,
        "at_or_above": 2,
        "progress": pytest.approx(0.01),
    }
    assert (tiers["gmv_1b"]["at_or_above"], tiers["gmv_1b"]["progress"]) == (0, 0.0)
    assert all(set(s) == STANDING_FIELDS for s in body["standings"])
    assert {s["provider_id"]: s for s in body["standings"]}["P1"] == {
        "provider_id": "P1",
        "annual_gmv_served": 150_000_000.0,
        "tier": "gmv_100m",
        "next_tier": "gmv_1b",
        "gap_to_next": 850_000_000.0,
        "progress_to_next": pytest.approx(0.15),
    }
    assert sorted(s["provider_id"] for s in body["closest"]["gmv_1b"]) == ["P1", "P2"]


def test_a_provider_sees_its_own_standing_and_a_brand_none(
    client: TestClient, tokens: dict[str, str]
) -> None:
    mine = board(client, tokens["p1"])
    assert [s["provider_id"] for s in mine["standings"]] == ["P1"]
    assert [s["provider_id"] for v in mine["closest"].values() for s in v] == ["P1"]
    brand = board(client, tokens["b2"])
    assert brand["standings"] == [] and brand["closest"] == {}
    assert [row["at_or_above"] for row in brand["tiers"]] == [0, 2]  # the counts are public


def test_the_schema_describes_the_board_field_by_field(client: TestClient) -> None:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    ok = schema["paths"]["/api/v1/tiers"]["get"]["responses"]["200"]["content"]
    assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/TierBoardView"}
    parts = schema["components"]["schemas"]
    assert set(parts["TierBoardView"]["properties"]) == {"tiers", "closest", "standings"}
    assert set(parts["TierRow"]["properties"]) == TIER_FIELDS
    assert set(parts["TierStandingView"]["properties"]) == STANDING_FIELDS
    closest = parts["TierBoardView"]["properties"]["closest"]
    assert closest["additionalProperties"]["items"] == {
        "$ref": "#/components/schemas/TierStandingView"
    }
