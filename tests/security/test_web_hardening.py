"""Web hardening (issue findings Medium 8 and the Low "security headers" and "Swagger from a CDN").

Each test plants the attack another site could run through a logged-in browser and asserts the
refusal: a form posted without the session's CSRF token, or from a foreign origin, is a 403 page
and the store is unchanged; the API refuses a cookie-authenticated write without
``X-CSRF-Token``; every response carries the security headers and no page has inline script;
the Swagger page loads only local assets. Each refusal is paired with the same request carrying
the token, which succeeds, so the test would fail if the check refused everything.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.api.factories import PASSWORD
from tests.web.conftest import csrf_token, web_login
from windmaker.api import deps
from windmaker.api.app import create_app
from windmaker.config import Settings
from windmaker.store import engine_for, open_session
from windmaker.store.actions import list_action_items
from windmaker.store.applications import get_application, review_queue
from windmaker.web import security

FORM = {
    "name": "Provider Eight",
    "kind": "brand_operation",
    "capabilities": ["traffic"],
    "categories": "beauty",
    "team_size": "30",
    "gmv_served_12m": "90000000",
    "capacity": "8",
}
FOREIGN = "https://attacker.example"


@pytest.fixture
def client(market: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(market)) as c:
        c.cookies.set("wm_lang", "en")
        yield c


def _as(client: TestClient, username: str) -> str:
    """Log in through the form; return the session's token and stop sending it by default."""
    assert web_login(client, username, PASSWORD).status_code == 303
    return str(client.headers.pop("X-CSRF-Token"))


def _refused(r: object, words: str = "did not come from a windmaker page") -> None:
    assert r.status_code == 403, r.text  # type: ignore[attr-defined]
    assert words in r.text  # type: ignore[attr-defined]


def _items(market: Settings) -> int:
    with open_session(engine_for(market)) as s:
        return len(list_action_items(s, brand_id="B1"))


def _queue(market: Settings) -> int:
    with open_session(engine_for(market)) as s:
        return len(review_queue(s))


def test_assign_without_the_token_is_refused_and_assigns_nothing(
    client: TestClient, market: Settings
) -> None:
    token = _as(client, "admin")
    form = {"action_id": "act_0", "owner": "admin"}
    _refused(client.post("/brands/B1/assign", data=form, follow_redirects=False))
    _refused(client.post("/brands/B1/assign", data=form | {"csrf_token": "0" * 64}))
    assert _items(market) == 0
    ok = client.post("/brands/B1/assign", data=form | {"csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303 and _items(market) == 1


def test_apply_and_decide_without_the_token_change_nothing(
    client: TestClient, market: Settings
) -> None:
    token = _as(client, "admin")
    before = _queue(market)
    _refused(client.post("/applications", data=FORM | {"provider_id": "N8"}))
    assert _queue(market) == before
    filed = client.post(
        "/applications",
        data=FORM | {"provider_id": "N8", "csrf_token": token},
        follow_redirects=False,
    )
    assert filed.status_code == 303 and _queue(market) == before + 1
    page = filed.headers["location"]
    app_id = int(page.rsplit("/", 1)[1])
    _refused(client.post(f"{page}/decide", data={"decision": "admitted"}))
    with open_session(engine_for(market)) as s:
        assert get_application(s, application_id=app_id).status == "pending"
    decided = client.post(
        f"{page}/decide",
        data={"decision": "admitted", "csrf_token": token},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    with open_session(engine_for(market)) as s:
        assert get_application(s, application_id=app_id).status == "decided"


def test_upload_and_refresh_without_the_token_start_no_job(client: TestClient) -> None:
    token = _as(client, "admin")
    jobs = client.app.state.windmaker.jobs  # type: ignore[attr-defined]
    brands = ("b.csv", b"brand_id,name,category\nB7,Seven,beauty\n")
    _refused(client.post("/data/upload", files={"file": brands}))
    _refused(client.post("/data/refresh"))
    assert jobs._jobs == {}
    up = client.post("/data/upload", files={"file": brands}, data={"csrf_token": token})
    assert up.status_code == 200 and 'data-job-id="' in up.text
    refresh = client.post("/data/refresh", headers={"X-CSRF-Token": token})  # as htmx sends it
    assert refresh.status_code == 200 and len(jobs._jobs) == 2
    for job in list(jobs._jobs.values()):
        jobs.wait(job.id, timeout=120)


def test_logout_without_the_token_keeps_the_session(client: TestClient) -> None:
    token = _as(client, "op")
    _refused(client.post("/logout", follow_redirects=False))
    assert client.get("/workbench", follow_redirects=False).status_code == 200
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/workbench", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "did not come from a windmaker page"), ("zh-CN", "并非来自 windmaker 页面")],
)
def test_login_csrf_is_refused_in_the_callers_language(
    client: TestClient, lang: str, words: str
) -> None:
    """Login CSRF: another site posting its own credentials into the victim's browser."""
    client.cookies.set("wm_lang", lang)
    login = {"username": "op", "password": PASSWORD}
    r = client.post("/login", data=login, follow_redirects=False)
    _refused(r, words)
    assert deps.COOKIE not in r.cookies
    # The attacker's own valid pair does not transfer: the token is bound to the pre-session
    # cookie of the browser that loaded the form.
    theirs = csrf_token(client)
    client.cookies.clear()
    client.cookies.set("wm_lang", lang)
    client.cookies.set(security.PRESESSION_COOKIE, "victim-cookie")
    _refused(client.post("/login", data=login | {"csrf_token": theirs}), words)
    ok = web_login(client, "op", PASSWORD)
    assert ok.status_code == 303 and deps.COOKIE in ok.cookies


@pytest.mark.parametrize(
    "headers",
    [{"Origin": FOREIGN}, {"Origin": "null"}, {"Referer": f"{FOREIGN}/page"}],
)
def test_a_foreign_origin_is_refused_even_with_the_token(
    client: TestClient, market: Settings, headers: dict[str, str]
) -> None:
    token = _as(client, "admin")
    form = {"action_id": "act_0", "owner": "admin", "csrf_token": token}
    _refused(client.post("/brands/B1/assign", data=form, headers=headers))
    assert _items(market) == 0
    own = {"Origin": "http://testserver", "Referer": "http://testserver/brands/B1"}
    ok = client.post("/brands/B1/assign", data=form, headers=own, follow_redirects=False)
    assert ok.status_code == 303 and _items(market) == 1


def test_api_writes_need_the_header_with_a_cookie_but_not_with_a_bearer(
    client: TestClient, market: Settings
) -> None:
    token = _as(client, "admin")
    url = "/api/v1/brands/B1/action-items"
    assert client.get(url).status_code == 200  # reads may keep the cookie
    r = client.post(url, json={"action_id": "act_0", "owner": "admin"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_refused"
    assert _items(market) == 0
    with_header = client.post(
        url, json={"action_id": "act_0", "owner": "admin"}, headers={"X-CSRF-Token": token}
    )
    assert with_header.status_code == 201, with_header.text
    foreign = client.post(
        url,
        json={"action_id": "act_1", "owner": "admin"},
        headers={"X-CSRF-Token": token, "Origin": FOREIGN},
    )
    assert foreign.status_code == 403 and _items(market) == 1
    client.cookies.clear()
    bearer = client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
    ).json()["access_token"]
    by_bearer = client.post(
        url, json={"action_id": "act_1", "owner": "admin"}, headers=auth(bearer)
    )
    assert by_bearer.status_code == 201 and _items(market) == 2


def _assert_headers(r: object) -> None:
    headers = r.headers  # type: ignore[attr-defined]
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"


def test_every_page_has_the_headers_and_no_inline_script(client: TestClient) -> None:
    _assert_headers(client.get("/login"))
    _assert_headers(client.get("/api/v1/brands"))  # a 401
    _as(client, "admin")
    client.headers["Accept-Language"] = "en"
    pages = (
        "/workbench",
        "/brands/B1",
        "/ecosystem",
        "/providers",
        "/providers/P1",
        "/data",
        "/brands/B9",
        "/login",
    )
    seen: set[str] = set()
    for path in pages:
        r = client.get(path)
        assert r.status_code in (200, 404), path
        _assert_headers(r)
        soup = BeautifulSoup(r.text, "html.parser")
        assert soup.find("meta", attrs={"name": "csrf-token"})["content"], path  # type: ignore[index]
        assert all(s.get("src", "").startswith("/static/") for s in soup.find_all("script")), path
        for tag in soup.find_all(True):
            assert not any(a.lower().startswith("on") for a in tag.attrs), (path, tag.name)
            assert not str(tag.get("href", "")).startswith("javascript:"), path
        unsafe = [f for f in soup.find_all("form") if f.get("method") == "post" or f.get("hx-post")]
        for form in unsafe:
            token = form.find("input", attrs={"name": "csrf_token"})
            assert token is not None and token["value"], (path, form.get("action"))
            seen.add(str(form.get("action") or form.get("hx-post")))
    assert {"/logout", "/data/upload", "/data/refresh"} <= seen  # forms were found
    for asset in ("/static/app.js", "/api/v1/brands"):
        _assert_headers(client.get(asset))


def test_swagger_docs_use_only_local_assets_under_the_policy(client: TestClient) -> None:
    r = client.get("/api/v1/docs")
    assert r.status_code == 200
    _assert_headers(r)
    soup = BeautifulSoup(r.text, "html.parser")
    urls = [s["src"] for s in soup.find_all("script", src=True)]
    urls += [link["href"] for link in soup.find_all("link", href=True)]
    assert len(urls) == 3 and all(u.startswith("/static/vendor/") for u in urls), urls
    for url in urls:
        assert client.get(url).status_code == 200, url
    inline = [s.string for s in soup.find_all("script", src=False)]
    assert len(inline) == 1 and "SwaggerUIBundle" in inline[0]
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in r.headers["content-security-policy"]
    assert "null" in inline[0].split('"validatorUrl":', 1)[1][:8]  # no online validator badge


def test_session_cookies_are_secure_over_https(market: Settings) -> None:
    with TestClient(create_app(market), base_url="https://testserver") as c:
        c.cookies.set("wm_lang", "en")
        form = c.get("/login")
        assert "Secure" in form.headers["set-cookie"]  # the pre-session cookie
        headers = {"Origin": "https://testserver"}
        r = c.post(
            "/login",
            data={"username": "op", "password": PASSWORD, "csrf_token": csrf_token(c)},
            headers=headers,
            follow_redirects=False,
        )
        assert r.status_code == 303
        session = next(v for v in r.headers.get_list("set-cookie") if v.startswith("wm_session="))
        assert "Secure" in session and "HttpOnly" in session
        # Over https a write that names no origin at all is refused (as in Django).
        _refused(c.post("/logout", data={"csrf_token": csrf_token(c, "/brands/-")}))
    with TestClient(create_app(market)) as plain:
        plain.get("/login")
        r = web_login(plain, "op", PASSWORD)
        session = next(v for v in r.headers.get_list("set-cookie") if v.startswith("wm_session="))
        assert "Secure" not in session
