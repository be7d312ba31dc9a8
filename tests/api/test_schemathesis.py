"""Property-based tests of the API against its own OpenAPI schema (Schemathesis).

Every operation of ``/api/v1/openapi.json`` is fuzzed in-process through the ASGI app, once per
role (admin, operator, provider, brand) with that user's bearer token, on the small diagnosed
market of ``tests/api/factories.py``. For each generated request the response must:

- not be a server error (``not_a_server_error``: no 5xx, whatever the input);
- conform to the documented schema of its status code (``response_schema_conformance``);
- carry a documented status code and content type (``status_code_conformance``,
  ``content_type_conformance``);
- for requests Schemathesis generates to violate the schema (negative mode), be refused with a
  4xx (``negative_data_rejection``).

Path parameters are drawn half the time from objects that exist (in and outside the caller's
scope) so the handlers' real code paths run, not only the 404 of a random id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import auth
from tests.api.factories import BRANDS, PASSWORD, USERS
from windmaker.api.app import API_PREFIX, api_router, create_app
from windmaker.config import Settings

SCHEMA_PATH = f"{API_PREFIX}/openapi.json"

#: Operations left out of the fuzzing, and why.
EXCLUDED = {
    # Revokes the caller's token: every later request of the run would answer 401.
    ("POST", f"{API_PREFIX}/auth/logout"),
    # Starts a background refresh of the whole warehouse (minutes of work on daemon threads
    # racing the fuzzer's own writes); its start/progress contract is tested in test_data.py.
    ("POST", f"{API_PREFIX}/refresh"),
}

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]

#: Examples per operation, role and generation mode: enough to hit odd input, bounded in time.
MAX_EXAMPLES = 4


def _spec() -> dict[str, Any]:
    app = FastAPI(openapi_url=SCHEMA_PATH)
    app.include_router(api_router())
    return app.openapi()


def _free_text(schema: dict[str, Any]) -> bool:
    """Whether every string a URL can carry is valid for ``schema`` (optional or repeated)."""
    if "anyOf" in schema:
        return all(_free_text(s) for s in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array":
        return _free_text(schema.get("items", {}))
    constraints = set(schema) - {"type", "title", "description", "default"}
    return kind in ("string", "null") and not constraints


def _can_be_invalid(operation: dict[str, Any]) -> bool:
    """Whether a request can violate the operation's schema at all: it has a body, or a
    parameter that is not free text (any string is a valid ``brand_id``)."""
    if "requestBody" in operation:
        return True
    return not all(_free_text(p.get("schema", {})) for p in operation.get("parameters", []))


def _cases() -> list[tuple[str, str, GenerationMode, str]]:
    """(method, path, mode, user) to fuzz, read from the app's routes at collection time.

    Positive mode runs as every role (what a caller may see differs by role). Negative mode
    (invalid input, refused before any handler runs) and login (which ignores the caller) run
    once, as one role taken in turn so each role meets some of them.
    """
    users = list(USERS)
    out = []
    for path, methods in _spec()["paths"].items():
        for method, operation in methods.items():
            if (method.upper(), path) in EXCLUDED:
                continue
            once = path == f"{API_PREFIX}/auth/login"
            for user in users[:1] if once else users:
                out.append((method.upper(), path, GenerationMode.POSITIVE, user))
            if _can_be_invalid(operation):
                user = users[len(out) % len(users)]
                out.append((method.upper(), path, GenerationMode.NEGATIVE, user))
    return sorted(out, key=lambda c: (c[1], c[0], c[2].value, c[3]))


CASES = _cases()


@dataclass
class Target:
    """The app under test, its schema, a token per user and ids of objects that exist."""

    schema: Any
    tokens: dict[str, str]
    known: dict[str, list[Any]]


@pytest.fixture(scope="module")
def target(market: Settings) -> Iterator[Target]:
    app = create_app(market)
    with TestClient(app) as client:
        tokens = {}
        for username in USERS:
            r = client.post(
                f"{API_PREFIX}/auth/login", json={"username": username, "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            tokens[username] = r.json()["access_token"]
        # One action item and one application exist, so their ids lead somewhere.
        item = client.post(
            f"{API_PREFIX}/brands/B1/action-items",
            json={"action_id": "act_0", "owner": "op"},
            headers=auth(tokens["admin"]),
        )
        assert item.status_code == 201, item.text
        application = client.post(
            f"{API_PREFIX}/applications",
            json={
                "provider_id": "P7",
                "name": "Provider Seven",
                "kind": "brand_operation",
                "capabilities": ["traffic"],
                "categories": ["beauty"],
                "team_size": 12,
                "gmv_served_12m": "30000000.00",
                "capacity": 5,
            },
            headers=auth(tokens["admin"]),
        )
        assert application.status_code == 201, application.text
        schema = schemathesis.openapi.from_asgi(SCHEMA_PATH, app)
        yield Target(
            schema=schema,
            tokens=tokens,
            known={
                "brand_id": [*BRANDS, "B9"],
                "provider_id": ["P1", "P2", "P7", "P9"],
                "item_id": [item.json()["id"], 10_000],
                "application_id": [application.json()["application"]["id"], 10_000],
                "job_id": ["000000000000"],
            },
        )


def _strategy(target: Target, method: str, path: str, mode: GenerationMode) -> Any:
    """Cases of one operation: fully generated, or with path parameters of existing objects."""
    operation = target.schema[path][method]
    generated = operation.as_strategy(generation_mode=mode)
    names = [p.name for p in operation.path_parameters]
    if not names or mode is GenerationMode.NEGATIVE:
        return generated
    known = st.fixed_dictionaries({n: st.sampled_from(target.known[n]) for n in names})
    return st.one_of(
        generated,
        known.flatmap(
            lambda fixed: operation.as_strategy(generation_mode=mode, path_parameters=fixed)
        ),
    )


@pytest.mark.parametrize(
    ("method", "path", "mode", "user"),
    CASES,
    ids=[f"{m} {p} {g.value} {u}" for m, p, g, u in CASES],
)
def test_operation_conforms(
    target: Target, method: str, path: str, user: str, mode: GenerationMode
) -> None:
    """No 5xx and schema-conformant responses for generated requests of every role."""
    headers = auth(target.tokens[user])
    checks = CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(target, method, path, mode))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    run()


def test_every_operation_is_fuzzed_or_excluded_with_a_reason() -> None:
    """The parametrisation above covers the whole schema: a new route is fuzzed by default."""
    every = {(m.upper(), p) for p, ms in _spec()["paths"].items() for m in ms}
    fuzzed = {(m, p) for m, p, _, _ in CASES}
    assert every == fuzzed | EXCLUDED
    assert not fuzzed & EXCLUDED
