"""Login, token expiry, logout, and errors in the caller's language."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.api.factories import PASSWORD
from tests.web.conftest import web_login
from windmaker.config import Settings
from windmaker.store import engine_for, get_user_by_name, open_session
from windmaker.store.tokens import issue_token


def test_wrong_password_is_401_in_the_callers_language(client: TestClient) -> None:
    body = {"username": "admin", "password": "nope"}
    zh = client.post("/api/v1/auth/login", json=body, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    en = client.post("/api/v1/auth/login", json=body, headers={"Accept-Language": "en-US,en;q=0.8"})
    assert zh.status_code == en.status_code == 401
    assert zh.json()["error"] == {
        "code": "bad_credentials",
        "message": "用户名或密码错误",
        "detail": None,
    }
    assert en.json()["error"]["message"] == "Wrong username or password"


def test_unknown_user_looks_like_a_wrong_password(client: TestClient) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "ghost", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"


def test_me_reports_role_and_scope(client: TestClient, tokens: dict[str, str]) -> None:
    me = client.get("/api/v1/auth/me", headers=auth(tokens["op"])).json()
    assert me == {
        "username": "op",
        "role": "operator",
        "provider_id": None,
        "brand_id": None,
        "brands_in_scope": 2,
    }
    assert (
        client.get("/api/v1/auth/me", headers=auth(tokens["admin"])).json()["brands_in_scope"]
        is None
    )


def test_expired_token_is_refused_with_its_own_code(client: TestClient, market: Settings) -> None:
    engine = engine_for(market)
    with open_session(engine) as s:
        user = get_user_by_name(s, username="admin")
        assert user is not None
        token, _ = issue_token(s, user_id=user.id, ttl=timedelta(seconds=-1))
    r = client.get("/api/v1/auth/me", headers=auth(token))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "token_expired"


def test_logout_revokes_the_token(client: TestClient) -> None:
    token = client.post("/api/v1/auth/login", json={"username": "b2", "password": PASSWORD}).json()[
        "access_token"
    ]
    assert client.get("/api/v1/auth/me", headers=auth(token)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=auth(token)).status_code == 204
    r = client.get("/api/v1/auth/me", headers=auth(token))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_garbage_token_is_401(client: TestClient) -> None:
    assert client.get("/api/v1/brands", headers=auth("not-a-token")).status_code == 401


def test_web_login_sets_an_http_only_session_cookie(client: TestClient) -> None:
    r = web_login(client, "op", PASSWORD)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "wm_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    client.cookies.clear()


def test_passwords_are_stored_as_argon2_hashes(market: Settings) -> None:
    with open_session(engine_for(market)) as s:
        user = get_user_by_name(s, username="admin")
        assert user is not None
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
