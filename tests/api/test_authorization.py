"""Every endpoint × every role × an object inside and outside the caller's scope.

Outside-scope reads answer 404 exactly like absent objects (existence is not leaked); writes
outside scope are refused and change nothing; a role that may never write gets 403. A test
enumerates the app's routes so no endpoint escapes the matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.api.factories import BRANDS, IN_SCOPE, OUT_OF_SCOPE, PROVIDER_IN, PROVIDER_OUT, USERS

ROLES = tuple(USERS)
SCOPE = {"admin": set(BRANDS), "op": {"B1", "B3"}, "p1": {"B1"}, "b2": {"B2"}}
STAFF = {"admin", "op"}


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    expect: int
    body: dict[str, Any] | None = None
    check: Callable[[Any], bool] | None = None


def brand_read(path: str) -> Callable[[str], list[Case]]:
    def cases(user: str) -> list[Case]:
        return [
            Case("GET", path.format(brand_id=IN_SCOPE[user]), 200),
            Case("GET", path.format(brand_id=OUT_OF_SCOPE[user]), 404),
        ]

    return cases


def provider_read(path: str) -> Callable[[str], list[Case]]:
    def cases(user: str) -> list[Case]:
        out = [Case("GET", path.format(provider_id=PROVIDER_OUT[user]), 404)]
        if PROVIDER_IN[user]:
            out.append(Case("GET", path.format(provider_id=PROVIDER_IN[user]), 200))
        return out

    return cases


def brand_list(path: str) -> Callable[[str], list[Case]]:
    def cases(user: str) -> list[Case]:
        def only_scope(body: Any) -> bool:
            ids = {i["brand_id"] for i in body["items"]}
            return ids == SCOPE[user]

        return [Case("GET", path, 200, check=only_scope)]

    return cases


def scoped_rows(path: str) -> Callable[[str], list[Case]]:
    def cases(user: str) -> list[Case]:
        return [Case("GET", path, 200)]

    return cases


def providers_list(user: str) -> list[Case]:
    expected = {"admin": {"P1", "P2"}, "op": {"P1", "P2"}, "p1": {"P1"}, "b2": set()}[user]
    return [
        Case(
            "GET",
            "/api/v1/providers",
            200,
            check=lambda b: {p["provider_id"] for p in b} == expected,
        )
    ]


def registry_rows(user: str) -> list[Case]:
    expected = {"admin": {"P1", "P2"}, "op": {"P1", "P2"}, "p1": {"P1"}, "b2": set()}[user]
    return [
        Case(
            "GET",
            "/api/v1/registry",
            200,
            check=lambda b: {r["provider_id"] for r in b["rows"]} == expected,
        )
    ]


def exit_review(user: str) -> list[Case]:
    return [
        Case(
            "POST",
            "/api/v1/decisions/999",
            404 if user == "admin" else 403,
            body={"outcome": "dismissed"},
        )
    ]


def decisions_list(user: str) -> list[Case]:
    def check(body: Any) -> bool:
        return user in STAFF or (
            all(d["provider_id"] == "P1" for d in body) and (user != "b2" or body == [])
        )

    return [Case("GET", "/api/v1/decisions", 200, check=check)]


def applications_list(user: str) -> list[Case]:
    def check(body: Any) -> bool:
        ids = {a["application"]["provider_id"] for a in body}
        return user in STAFF or (ids <= {"P1"} and (user != "b2" or not ids))

    return [Case("GET", "/api/v1/applications", 200, check=check)]


def application_read(user: str) -> list[Case]:
    # Application 1 is P2's (filed below in the fixture): only staff see it.
    return [
        Case("GET", "/api/v1/applications/1", 200 if user in STAFF else 404),
        Case("GET", "/api/v1/applications/999", 404),
    ]


APPLICATION = {
    "name": "Applicant",
    "kind": "traffic_agency",
    "capabilities": ["traffic"],
    "categories": ["beauty"],
    "team_size": 12,
    "gmv_served_12m": "20000000.00",
    "capacity": 5,
}


def application_create(user: str) -> list[Case]:
    own = {"admin": 201, "op": 403, "p1": 409, "b2": 403}[user]  # P1 is admitted already
    other = {"admin": 201, "op": 403, "p1": 404, "b2": 403}[user]
    pid = {"admin": "NEWA", "op": "NEWO", "p1": "P1", "b2": "NEWB"}[user]
    return [
        Case("POST", "/api/v1/applications", own, body=APPLICATION | {"provider_id": pid}),
        Case("POST", "/api/v1/applications", other, body=APPLICATION | {"provider_id": f"X{user}"}),
    ]


def decision_create(user: str) -> list[Case]:
    return [
        Case(
            "POST",
            "/api/v1/applications/999/decision",
            404 if user == "admin" else 403,
            body={"decision": "rejected"},
        ),
    ]


def action_create(user: str) -> list[Case]:
    inside = 403 if user == "b2" else 201
    return [
        Case(
            "POST",
            f"/api/v1/brands/{IN_SCOPE[user]}/action-items",
            inside,
            body={"action_id": f"a-{user}", "owner": user},
        ),
        Case(
            "POST",
            f"/api/v1/brands/{OUT_OF_SCOPE[user]}/action-items",
            404,
            body={"action_id": f"o-{user}", "owner": user},
        ),
    ]


def action_update(user: str) -> list[Case]:
    # Items 1 (B1) and 2 (B2) are created by the fixture below.
    inside = {"admin": 1, "op": 1, "p1": 1, "b2": 2}[user]
    outside = {"admin": 999, "op": 2, "p1": 2, "b2": 1}[user]
    return [
        Case("PATCH", f"/api/v1/action-items/{inside}", 200, body={"status": "doing"}),
        Case("PATCH", f"/api/v1/action-items/{outside}", 404, body={"status": "done"}),
    ]


def action_reassign(user: str) -> list[Case]:
    inside = {"admin": 1, "op": 1, "p1": 1, "b2": 2}[user]
    outside = {"admin": 999, "op": 2, "p1": 2, "b2": 1}[user]
    body = {"owner": user, "due_date": "2026-12-31"}
    return [
        Case(
            "POST",
            f"/api/v1/action-items/{inside}/assignment",
            403 if user == "b2" else 200,
            body=body,
        ),
        Case("POST", f"/api/v1/action-items/{outside}/assignment", 404, body=body),
    ]


def action_history(user: str) -> list[Case]:
    inside = {"admin": 1, "op": 1, "p1": 1, "b2": 2}[user]
    outside = {"admin": 999, "op": 2, "p1": 2, "b2": 1}[user]
    return [
        Case("GET", f"/api/v1/action-items/{inside}/history", 200),
        Case("GET", f"/api/v1/action-items/{outside}/history", 404),
    ]


def staff_only(method: str, path: str, ok: int) -> Callable[[str], list[Case]]:
    def cases(user: str) -> list[Case]:
        return [Case(method, path, ok if user in STAFF else 403)]

    return cases


def refresh_status(user: str) -> list[Case]:
    return [Case("GET", "/api/v1/refresh/nope", 404 if user in STAFF else 403)]


def factory_brand(user: str) -> list[Case]:
    # supply-chain providers are held to their clients in tests/api/test_factories.py
    if user not in STAFF:
        return [Case("GET", f"/api/v1/factories/for-brand/{IN_SCOPE[user]}", 403)]
    return [
        Case("GET", f"/api/v1/factories/for-brand/{IN_SCOPE[user]}", 200),
        Case("GET", f"/api/v1/factories/for-brand/{OUT_OF_SCOPE[user]}", 404),
    ]


def consent_write(user: str) -> list[Case]:
    # the brand itself or an admin; staff other than admins and providers may not decide
    inside = {"admin": 200, "op": 403, "p1": 403, "b2": 200}[user]
    body = {"consented": False}
    return [
        Case("PUT", f"/api/v1/brands/{IN_SCOPE[user]}/consent", inside, body=body),
        Case("PUT", f"/api/v1/brands/{OUT_OF_SCOPE[user]}/consent", 404, body=body),
    ]


def admin_only(
    method: str, path: str, ok: int, body: dict[str, Any] | None = None
) -> Callable[[str], list[Case]]:
    """The plan's allocations: an admin's (2xx, or 404 for one that does not exist), 403 for
    every other role (tests/api/test_allocations.py covers them in depth)."""

    def cases(user: str) -> list[Case]:
        return [Case(method, path, ok if user == "admin" else 403, body=body)]

    return cases


def any_user(method: str, path: str, ok: int) -> Callable[[str], list[Case]]:
    return lambda user: [Case(method, path, ok)]


MATRIX: dict[tuple[str, str], Callable[[str], list[Case]]] = {
    ("GET", "/api/v1/auth/me"): any_user("GET", "/api/v1/auth/me", 200),
    (
        "POST",
        "/api/v1/auth/logout",
    ): lambda user: [],  # exercised in test_auth (it revokes the token)
    ("POST", "/api/v1/auth/login"): lambda user: [],  # anonymous by design; test_auth
    ("GET", "/api/v1/brands"): brand_list("/api/v1/brands?page_size=500"),
    ("GET", "/api/v1/portfolio"): brand_list("/api/v1/portfolio"),
    ("GET", "/api/v1/brands/{brand_id}"): brand_read("/api/v1/brands/{brand_id}"),
    ("GET", "/api/v1/brands/{brand_id}/stages"): brand_read("/api/v1/brands/{brand_id}/stages"),
    ("GET", "/api/v1/brands/{brand_id}/diagnosis"): brand_read(
        "/api/v1/brands/{brand_id}/diagnosis"
    ),
    ("GET", "/api/v1/brands/{brand_id}/radar"): brand_read("/api/v1/brands/{brand_id}/radar"),
    ("GET", "/api/v1/brands/{brand_id}/metrics"): brand_read("/api/v1/brands/{brand_id}/metrics"),
    ("GET", "/api/v1/brands/{brand_id}/gmv-tree"): brand_read("/api/v1/brands/{brand_id}/gmv-tree"),
    ("GET", "/api/v1/brands/{brand_id}/recommendations"): brand_read(
        "/api/v1/brands/{brand_id}/recommendations"
    ),
    ("GET", "/api/v1/brands/{brand_id}/clv"): brand_read("/api/v1/brands/{brand_id}/clv"),
    ("GET", "/api/v1/brands/{brand_id}/traffic"): brand_read("/api/v1/brands/{brand_id}/traffic"),
    ("GET", "/api/v1/brands/{brand_id}/trust"): brand_read("/api/v1/brands/{brand_id}/trust"),
    ("GET", "/api/v1/brands/{brand_id}/horse-race"): brand_read(
        "/api/v1/brands/{brand_id}/horse-race"
    ),
    ("GET", "/api/v1/brands/{brand_id}/hits"): brand_read("/api/v1/brands/{brand_id}/hits"),
    ("GET", "/api/v1/brands/{brand_id}/action-items"): brand_read(
        "/api/v1/brands/{brand_id}/action-items"
    ),
    ("POST", "/api/v1/brands/{brand_id}/action-items"): action_create,
    ("PATCH", "/api/v1/action-items/{item_id}"): action_update,
    ("POST", "/api/v1/action-items/{item_id}/assignment"): action_reassign,
    ("GET", "/api/v1/action-items/{item_id}/history"): action_history,
    ("GET", "/api/v1/ecosystem/stages"): scoped_rows("/api/v1/ecosystem/stages"),
    ("GET", "/api/v1/ecosystem/flows"): scoped_rows("/api/v1/ecosystem/flows"),
    ("GET", "/api/v1/providers"): providers_list,
    ("GET", "/api/v1/providers/{provider_id}"): provider_read("/api/v1/providers/{provider_id}"),
    ("GET", "/api/v1/providers/{provider_id}/evaluations"): provider_read(
        "/api/v1/providers/{provider_id}/evaluations"
    ),
    ("GET", "/api/v1/providers/{provider_id}/assignments"): provider_read(
        "/api/v1/providers/{provider_id}/assignments"
    ),
    ("GET", "/api/v1/providers/{provider_id}/view"): provider_read(
        "/api/v1/providers/{provider_id}/view"
    ),
    ("GET", "/api/v1/registry"): registry_rows,
    ("GET", "/api/v1/decisions"): decisions_list,
    ("POST", "/api/v1/decisions/{decision_id}"): exit_review,
    ("GET", "/api/v1/applications"): applications_list,
    ("GET", "/api/v1/applications/{application_id}"): application_read,
    ("POST", "/api/v1/applications"): application_create,
    ("POST", "/api/v1/applications/{application_id}/decision"): decision_create,
    ("GET", "/api/v1/tiers"): any_user("GET", "/api/v1/tiers", 200),
    ("POST", "/api/v1/ingest"): lambda user: [],  # multipart; test_data covers every role
    ("POST", "/api/v1/refresh"): lambda user: [],  # starts a job; test_data covers every role
    ("GET", "/api/v1/refresh/{job_id}"): refresh_status,
    # staff start a fit (a job of minutes): tests/services/test_model_fit_job.py runs one
    ("POST", "/api/v1/models/fit"): lambda user: (
        [] if user in STAFF else [Case("POST", "/api/v1/models/fit", 403)]
    ),
    ("GET", "/api/v1/jobs"): any_user("GET", "/api/v1/jobs", 200),
    # P1 is a brand-operation provider: factories are for staff and supply-chain providers
    ("GET", "/api/v1/factories"): staff_only("GET", "/api/v1/factories", 200),
    ("GET", "/api/v1/factories/belts"): staff_only("GET", "/api/v1/factories/belts", 200),
    ("GET", "/api/v1/factories/origins"): staff_only("GET", "/api/v1/factories/origins", 200),
    ("GET", "/api/v1/factories/for-brand/{brand_id}"): factory_brand,
    ("GET", "/api/v1/jobs/{job_id}"): any_user("GET", "/api/v1/jobs/nope", 404),
    # the case library is everyone's (anonymised alike); the small market has no step yet
    ("GET", "/api/v1/cases"): any_user("GET", "/api/v1/cases", 200),
    ("GET", "/api/v1/cases/{case_id}"): any_user("GET", "/api/v1/cases/C0000000000", 404),
    ("GET", "/api/v1/brands/{brand_id}/consent"): brand_read("/api/v1/brands/{brand_id}/consent"),
    ("PUT", "/api/v1/brands/{brand_id}/consent"): consent_write,
    ("GET", "/api/v1/allocations"): admin_only("GET", "/api/v1/allocations", 200),
    ("POST", "/api/v1/allocations"): admin_only(
        "POST",
        "/api/v1/allocations",
        201,
        {"funds_per_period": 100000, "traffic_per_period": 1e8, "periods": 2},
    ),
    ("GET", "/api/v1/allocations/{allocation_id}"): admin_only(
        "GET", "/api/v1/allocations/999", 404
    ),
    ("POST", "/api/v1/allocations/{allocation_id}/decision"): admin_only(
        "POST", "/api/v1/allocations/999/decision", 404, {"outcome": "rejected"}
    ),
}
#: Routes whose cases live in other files, each named, so the matrix still accounts for them.
COVERED_ELSEWHERE = {
    ("POST", "/api/v1/auth/logout"): "tests/api/test_auth.py",
    ("POST", "/api/v1/auth/login"): "tests/api/test_auth.py",
    ("POST", "/api/v1/ingest"): "tests/api/test_data.py",
    ("POST", "/api/v1/refresh"): "tests/api/test_data.py",
    ("POST", "/api/v1/models/fit"): "tests/services/test_model_fit_job.py",
}


def api_routes(client: TestClient) -> set[tuple[str, str]]:
    """Every operation the app publishes (its OpenAPI schema lists each route and method)."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def test_no_endpoint_is_missing_from_the_matrix(client: TestClient) -> None:
    assert api_routes(client) == set(MATRIX)


@pytest.fixture(scope="module")
def seeded(client: TestClient, tokens: dict[str, str]) -> None:
    """One application by P2 (id 1) and one action item on B1 (id 1) and B2 (id 2)."""
    r = client.post(
        "/api/v1/applications",
        headers=auth(tokens["admin"]),
        json=APPLICATION | {"provider_id": "P2"},
    )
    assert r.status_code == 201 and r.json()["application"]["id"] == 1, r.text
    for brand in ("B1", "B2"):
        r = client.post(
            f"/api/v1/brands/{brand}/action-items",
            headers=auth(tokens["admin"]),
            json={"action_id": "seed", "owner": "admin"},
        )
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("user", ROLES)
@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_access(
    route: tuple[str, str], user: str, client: TestClient, tokens: dict[str, str], seeded: None
) -> None:
    cases = MATRIX[route](user)
    if not cases:
        assert route in COVERED_ELSEWHERE
    for case in cases:
        r = client.request(case.method, case.url, headers=auth(tokens[user]), json=case.body)
        assert r.status_code == case.expect, (
            f"{user} {case.method} {case.url}: {r.status_code} {r.text[:300]}"
        )
        if r.status_code >= 400:
            assert r.json()["error"]["code"], r.text
        if case.check is not None:
            assert case.check(r.json()), f"{user} {case.url}: {r.text[:500]}"


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_anonymous_is_refused(route: tuple[str, str], client: TestClient) -> None:
    method, path = route
    if path == "/api/v1/auth/login":
        return
    url = path.format(
        brand_id="B1",
        provider_id="P1",
        application_id=1,
        item_id=1,
        job_id="x",
        decision_id=1,
        case_id="C0",
        allocation_id=1,
    )
    r = client.request(method, url, json={})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_out_of_scope_write_changes_nothing(
    client: TestClient, tokens: dict[str, str], seeded: None
) -> None:
    before = client.get("/api/v1/brands/B2/action-items", headers=auth(tokens["admin"])).json()
    r = client.patch(
        "/api/v1/action-items/2", headers=auth(tokens["p1"]), json={"status": "dropped"}
    )
    assert r.status_code == 404
    assert (
        client.get("/api/v1/brands/B2/action-items", headers=auth(tokens["admin"])).json() == before
    )
