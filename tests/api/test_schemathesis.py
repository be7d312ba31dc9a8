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

A stateful run per role chains operations through OpenAPI links: the links Schemathesis infers
(``POST /applications`` → ``GET /applications/{id}`` and its decision, ``POST .../action-items``
→ ``PATCH /action-items/{id}``, ``POST /ingest`` → ``GET /jobs/{id}``, the provider registry →
a provider's pages) and the ones the schema declares (a page of ``GET /brands`` → the first
brand's scorecard, stages, diagnosis, radar and metrics). Each step meets the same checks.
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
    # Fits the models in the background, the same way (tests/services/test_model_fit_job.py).
    ("POST", f"{API_PREFIX}/models/fit"),
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
#: Scenarios per role of the stateful run, and steps (linked calls) per scenario at most.
STATEFUL_SCENARIOS = 25
STATEFUL_STEPS = 8


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
                "decision_id": [10_000],
                "case_id": ["C0000000000"],  # the small market has made no step yet
                "allocation_id": [1, 10_000],  # the first allocation an admin's run proposes
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


def _state_machine(target: Target, user: str, seen: list[tuple[str, int]] | None = None) -> Any:
    """The schema's state machine (links inferred and declared), calling as ``user`` and
    validating every step with ``CHECKS``; the operations of ``EXCLUDED`` are left out.
    Each call's path template and status are appended to ``seen``."""
    schema = target.schema
    for method, path in EXCLUDED:
        schema = schema.exclude(method=method, path=path)
    headers = auth(target.tokens[user])
    record = [] if seen is None else seen

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def after_call(self, response: Any, case: Any) -> None:
            record.append((f"{case.method} {case.path}", response.status_code))

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    return Workflow


def test_state_machine_follows_declared_and_inferred_links(target: Target) -> None:
    """The transitions the stateful run may take include a declared link (a page of brands →
    the first brand's scorecard) and inferred ones (a created application → reading it; an
    upload → its job), and every declared link names an operation that exists."""
    spec = _spec()
    ids = {op["operationId"] for ops in spec["paths"].values() for op in ops.values()}
    links = spec["paths"][f"{API_PREFIX}/brands"]["get"]["responses"]["200"]["links"]
    assert links and {link["operationId"] for link in links.values()} <= ids
    rules = [name for name in dir(_state_machine(target, "admin")) if "__" in name]
    assert any(r.startswith("GET_api_v1_brands___200") and "scorecard" in r for r in rules)
    assert any(
        r.startswith("POST_api_v1_applications___201")
        and r.endswith("GET_api_v1_applications_application_id_")
        for r in rules
    )
    assert any(r.startswith("POST_api_v1_ingest___202") for r in rules)


@pytest.mark.parametrize("user", list(USERS))
def test_stateful_workflows_conform(target: Target, user: str) -> None:
    """Sequences of linked calls as each role: no 5xx, schema-conformant responses, documented
    status codes and content types at every step, calls on path parameters among them; and the
    links the sequences follow lead to objects that exist: each declared link of the brands
    page, followed as this role, answers 200. (Which sequences a derandomised run explores
    moves with anything that changes its seed, so that a random sequence happens to follow a
    link to a 200 is not asserted; the links themselves are, below.)"""
    seen: list[tuple[str, int]] = []
    _state_machine(target, user, seen).run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert len(seen) > STATEFUL_SCENARIOS
    assert any("{" in operation for operation, _ in seen), seen
    _links_lead_to_objects(target, user)


def _links_lead_to_objects(target: Target, user: str) -> None:
    """Follow every declared link of ``GET /brands`` as ``user``: each answers 200."""
    from fastapi.testclient import TestClient

    spec = _spec()
    by_id = {op["operationId"]: path for path, ops in spec["paths"].items() for op in ops.values()}
    links = spec["paths"][f"{API_PREFIX}/brands"]["get"]["responses"]["200"]["links"]
    app = target.schema.app
    with TestClient(app) as client:
        headers = auth(target.tokens[user])
        page = client.get(f"{API_PREFIX}/brands", headers=headers)
        assert page.status_code == 200, page.text
        first = page.json()["items"][0]
        for name, link in links.items():
            params = {k: first[v.rsplit("/", 1)[1]] for k, v in link["parameters"].items()}
            path = by_id[link["operationId"]].format(**params)
            r = client.get(path, headers=headers)
            assert r.status_code == 200, (user, name, path, r.status_code, r.text[:200])
