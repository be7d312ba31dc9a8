"""Identity that revokes and login that throttles (issue findings High 1 and Medium 7).

Each test plants the attack the audit ran and asserts the refusal the fix promises: a
deactivated, re-passworded or deleted user's token is 401 at once, even while the server
remembers principals for an hour; a login flood is answered 429 with ``Retry-After`` before any
password is hashed, and other users still log in.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from tests.api.conftest import auth
from tests.api.factories import PASSWORD
from tests.web.conftest import web_login
from windmaker.api import deps
from windmaker.api.app import create_app
from windmaker.cli.main import app as cli
from windmaker.config import Settings
from windmaker.services import users
from windmaker.services.identity import workspace_admin
from windmaker.services.users import LoginThrottle
from windmaker.store import engine_for, open_session

ADMIN = workspace_admin("test")
APPLICATION = {
    "provider_id": "P7",
    "name": "Provider Seven",
    "kind": "traffic_agency",
    "capabilities": ["traffic"],
    "categories": ["beauty"],
    "team_size": 12,
    "gmv_served_12m": "20000000.00",
    "capacity": 5,
}


@pytest.fixture
def client(market: Settings) -> Iterator[TestClient]:
    """The app with an hour-long principal memory: revocation must not wait for it."""
    settings = market.model_copy(update={"principal_cache_seconds": 3600.0})
    with TestClient(create_app(settings)) as c:
        yield c


def _login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/auth/me", headers=auth(token)).status_code


def _session(settings: Settings):  # type: ignore[no-untyped-def]
    return open_session(engine_for(settings))


def test_deactivated_admin_token_is_refused_on_a_write(
    client: TestClient, market: Settings
) -> None:
    """High 1: POST /applications answered 201 with a deactivated admin's old token."""
    token = _login(client, "admin")
    assert _me(client, token) == 200  # the principal is now remembered
    with _session(market) as s:
        record = users.set_active(s, ADMIN, username="admin", active=False)
    assert record.active is False
    r = client.post("/api/v1/applications", json=APPLICATION, headers=auth(token))
    assert r.status_code == 401, r.text
    assert _me(client, token) == 401
    # Reactivation does not bring the revoked token back; a new login works.
    with _session(market) as s:
        users.set_active(s, ADMIN, username="admin", active=True)
    assert _me(client, token) == 401
    fresh = _login(client, "admin")  # the same request with a live token is accepted
    assert (
        client.post("/api/v1/applications", json=APPLICATION, headers=auth(fresh)).status_code
        == 201
    )


def test_deactivated_user_cannot_log_in(client: TestClient, market: Settings) -> None:
    with _session(market) as s:
        users.set_active(s, ADMIN, username="op", active=False)
    r = client.post("/api/v1/auth/login", json={"username": "op", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"


def test_password_change_revokes_every_token_and_web_session(
    client: TestClient, market: Settings
) -> None:
    """High 1: a password change revoked nothing."""
    api_token = _login(client, "op")
    assert _me(client, api_token) == 200
    web = web_login(client, "op", PASSWORD)
    assert web.status_code == 303
    cookie = web.cookies[deps.COOKIE]
    with _session(market) as s:
        users.change_password(s, ADMIN, username="op", password="a new long passphrase")
    assert _me(client, api_token) == 401
    client.cookies.set(deps.COOKIE, cookie)
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert _me(client, _login(client, "op", "a new long passphrase")) == 200


def test_deleted_user_token_is_401(client: TestClient, market: Settings) -> None:
    """High 1: a deleted user's token gave a 500."""
    token = _login(client, "b2")
    assert client.get("/api/v1/brands/B2", headers=auth(token)).status_code == 200
    with _session(market) as s:
        users.delete(s, ADMIN, username="b2")
        assert [u.username for u in users.list_users(s, ADMIN)] == ["admin", "op", "p1"]
    r = client.get("/api/v1/brands/B2", headers=auth(token))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_token_of_a_user_missing_from_the_store_is_401(market: Settings) -> None:
    """A token row whose user row is gone (removed behind the application's back) is 401."""
    settings = market.model_copy(update={"principal_cache_seconds": 0.0})
    with TestClient(create_app(settings)) as client:
        token = _login(client, "b2")
        engine = engine_for(settings)
        with engine.connect() as con:
            con.execute(text("PRAGMA foreign_keys=OFF"))
            con.execute(text("DELETE FROM users WHERE username = 'b2'"))
            con.commit()
        r = client.get("/api/v1/auth/me", headers=auth(token))
        assert r.status_code == 401, r.text


def test_cli_deactivate_revokes_at_once(client: TestClient, market: Settings) -> None:
    token = _login(client, "p1")
    assert _me(client, token) == 200
    done = CliRunner().invoke(
        cli, ["users", "deactivate", "p1", "--workspace", str(market.workspace)]
    )
    assert done.exit_code == 0, done.output
    assert _me(client, token) == 401
    missing = CliRunner().invoke(
        cli, ["users", "deactivate", "nobody", "--workspace", str(market.workspace)]
    )
    assert missing.exit_code == 2


def test_only_admins_deactivate_or_delete(market: Settings) -> None:
    from windmaker.services.errors import ServiceError
    from windmaker.services.identity import Principal

    op = Principal(user_id=2, username="op", role="operator", brand_scope=frozenset({"B1"}))
    with _session(market) as s:
        with pytest.raises(ServiceError) as refused:
            users.set_active(s, op, username="admin", active=False)
        assert refused.value.status == 403
        with pytest.raises(ServiceError) as refused:
            users.delete(s, op, username="b2")
        assert refused.value.status == 403
        with pytest.raises(ServiceError) as refused:
            users.delete(s, ADMIN.__class__(1, "admin", "admin", None), username="admin")
        assert refused.value.status == 422


def test_another_users_write_does_not_flush_remembered_principals(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Medium 7: any POST cleared the cache, so every request went back to the store."""
    token = _login(client, "op")
    assert _me(client, token) == 200
    reads: list[str] = []
    real = deps._principal_from_store
    monkeypatch.setattr(deps, "_principal_from_store", lambda e, t: reads.append(t) or real(e, t))
    other = _login(client, "admin")
    assert client.post("/api/v1/auth/logout", headers=auth(other)).status_code == 204
    assert _me(client, token) == 200
    assert token not in reads


# -- login throttling -------------------------------------------------------------------------
def test_backoff_doubles_after_the_free_failures_up_to_the_cap() -> None:
    """The schedule written in the settings: 5 free failures, then 1, 2, 4 … s, at most 8 s."""
    clock = [0.0]
    throttle = LoginThrottle(
        free_per_user=5, free_per_address=50, first=1, longest=8, clock=lambda: clock[0]
    )
    waits = []
    for _ in range(9):
        assert throttle.retry_after("op", "10.0.0.1") == 0
        throttle.failed("op", "10.0.0.1")
        waits.append(throttle.retry_after("op", "10.0.0.1"))
        clock[0] += waits[-1]
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 8]
    assert throttle.retry_after("admin", "10.0.0.2") == 0  # other users, other addresses
    throttle.succeeded("op")
    assert throttle.retry_after("op", "10.0.0.3") == 0
    clock[0] += 4 * 8 + 1  # failures are forgotten after 4 × the longest lockout
    for _ in range(4):
        throttle.failed("spray", "10.0.0.1")
    assert throttle.retry_after("spray", "10.0.0.1") == 0


def test_one_address_spraying_usernames_is_locked_out() -> None:
    clock = [0.0]
    throttle = LoginThrottle(
        free_per_user=5, free_per_address=3, first=1, longest=60, clock=lambda: clock[0]
    )
    for name in ("a", "b", "c"):
        throttle.failed(name, "10.0.0.9")
    assert throttle.retry_after("d", "10.0.0.9") == 1
    assert throttle.retry_after("d", "10.0.0.10") == 0


def test_login_flood_is_429_with_retry_after_and_others_still_log_in(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Medium 7: each try cost an argon2 hash. After 5 failures the 6th try is refused before
    any hash, with Retry-After; the right password is refused too while locked; another user
    from the same address logs in."""
    for _ in range(5):
        r = client.post("/api/v1/auth/login", json={"username": "op", "password": "guess"})
        assert r.status_code == 401
    hashes: list[str] = []
    from windmaker import store

    real = store.authenticate
    monkeypatch.setattr(
        store, "authenticate", lambda s, **kw: hashes.append(kw["username"]) or real(s, **kw)
    )
    for password in ("guess", PASSWORD):
        r = client.post("/api/v1/auth/login", json={"username": "op", "password": password})
        assert r.status_code == 429, r.text
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["code"] == "too_many_attempts"
    assert hashes == []  # refused before the password was hashed
    assert _me(client, _login(client, "admin")) == 200
    assert hashes == ["admin"]


@pytest.mark.parametrize(
    ("lang", "words"), [("en", "Too many failed logins"), ("zh-CN", "登录失败次数过多")]
)
def test_web_login_flood_is_a_429_page_in_the_callers_language(
    market: Settings, lang: str, words: str
) -> None:
    settings = market.model_copy(update={"login_free_failures": 2})
    with TestClient(create_app(settings)) as client:
        client.cookies.set("wm_lang", lang)
        for _ in range(2):
            r = web_login(client, "admin", "guess")
            assert r.status_code == 401
        r = web_login(client, "admin", PASSWORD)
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        assert words in r.text
