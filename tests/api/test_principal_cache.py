"""The server's short memory of token → principal: what it saves must never widen access.

Remembered principals are forgotten on logout, when their own user changes in this process,
and after ``principal_cache_seconds``; a token past its expiry is refused even while
remembered. Another user's write request does not flush them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.api.factories import PASSWORD, write_market
from windmaker.api import deps
from windmaker.api.app import create_app
from windmaker.api.deps import PrincipalCache
from windmaker.config import Settings
from windmaker.services.identity import Principal
from windmaker.store import engine_for, open_session, set_portfolio
from windmaker.store import users as store_users

OP = Principal(user_id=1, username="op", role="operator", brand_scope=frozenset({"B1"}))
LATER = datetime(2099, 1, 1)


def test_cache_remembers_for_its_seconds_then_forgets(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(deps.time, "monotonic", lambda: clock[0])
    cache = PrincipalCache(5)
    cache.put("tok", OP, LATER)
    assert cache.get("tok") == (OP, LATER)
    assert cache.get("other") is None
    clock[0] += 4.9
    assert cache.get("tok") == (OP, LATER)
    clock[0] += 0.2
    assert cache.get("tok") is None


def test_cache_forget_clear_and_off() -> None:
    cache = PrincipalCache(60)
    cache.put("a", OP, LATER)
    cache.put("b", OP, LATER)
    cache.forget("a")
    assert cache.get("a") is None and cache.get("b") is not None
    cache.clear()
    assert cache.get("b") is None
    off = PrincipalCache(0)
    off.put("a", OP, LATER)
    assert off.get("a") is None
    # Keys are digests: the token itself is not kept in memory.
    cache.put("secret-token", OP, LATER)
    assert "secret-token" not in str(cache._entries)


def _scope(client: TestClient, token: str) -> int:
    r = client.get("/api/v1/auth/me", headers=auth(token))
    assert r.status_code == 200, r.text
    return int(r.json()["brands_in_scope"])


def _login(client: TestClient, username: str) -> str:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture
def fresh_market(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from windmaker.workspace import init_workspace

    settings = init_workspace(tmp_path_factory.mktemp("cache") / "ws")
    write_market(settings)
    return settings


def _widen_op_portfolio(settings: Settings) -> None:
    engine = engine_for(settings)
    with open_session(engine) as s:
        set_portfolio(s, username="op", brand_ids=["B1", "B2", "B3"], actor="test")
    engine.dispose()


def test_store_change_elsewhere_is_seen_after_the_cache_seconds(
    fresh_market: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(deps.time, "monotonic", lambda: clock[0])
    settings = fresh_market.model_copy(update={"principal_cache_seconds": 60.0})
    with TestClient(create_app(settings)) as client:
        op = _login(client, "op")
        assert _scope(client, op) == 2
        with monkeypatch.context() as elsewhere:  # as the CLI would, from another process
            elsewhere.setattr(store_users.identity_versions, "bump", lambda user_id: None)
            _widen_op_portfolio(settings)
        assert _scope(client, op) == 2  # still remembered: the documented delay
        other = _login(client, "admin")  # another user's write request flushes nothing
        client.post("/api/v1/auth/logout", headers=auth(other))
        assert _scope(client, op) == 2
        clock[0] += 61
        assert _scope(client, op) == 3


def test_store_change_in_this_process_is_seen_at_once(fresh_market: Settings) -> None:
    settings = fresh_market.model_copy(update={"principal_cache_seconds": 3600.0})
    with TestClient(create_app(settings)) as client:
        op = _login(client, "op")
        assert _scope(client, op) == 2
        _widen_op_portfolio(settings)
        assert _scope(client, op) == 3


def test_without_cache_every_request_reads_the_store(fresh_market: Settings) -> None:
    settings = fresh_market.model_copy(update={"principal_cache_seconds": 0.0})
    with TestClient(create_app(settings)) as client:
        op = _login(client, "op")
        assert _scope(client, op) == 2
        _widen_op_portfolio(settings)
        assert _scope(client, op) == 3


def test_remembered_token_is_refused_once_expired(
    fresh_market: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = fresh_market.model_copy(update={"principal_cache_seconds": 3600.0})
    with TestClient(create_app(settings)) as client:
        op = _login(client, "op")
        assert _scope(client, op) == 2  # now remembered
        real_now = deps.now
        monkeypatch.setattr(
            deps, "now", lambda: real_now() + timedelta(minutes=settings.token_ttl_minutes + 1)
        )
        r = client.get("/api/v1/auth/me", headers=auth(op))
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"


def test_logout_is_immediate_even_with_a_long_memory(fresh_market: Settings) -> None:
    settings = fresh_market.model_copy(update={"principal_cache_seconds": 3600.0})
    with TestClient(create_app(settings)) as client:
        token = _login(client, "b2")
        assert client.get("/api/v1/brands/B2", headers=auth(token)).status_code == 200
        assert client.post("/api/v1/auth/logout", headers=auth(token)).status_code == 204
        assert client.get("/api/v1/brands/B2", headers=auth(token)).status_code == 401
