from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from tests.conftest import DEMO_PASSWORD as PASSWORD
from windmaker.api.app import create_app
from windmaker.config import Settings


@pytest.fixture(scope="module")
def web(web_market: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(web_market)) as c:
        yield c


def csrf_token(client: TestClient, path: str = "/login") -> str:
    """The CSRF token a page gives this client (the login page's pre-session one by default)."""
    page = client.get(path)
    return page.text.split('<meta name="csrf-token" content="', 1)[1].split('"', 1)[0]


def web_login(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    """Log in through the login form as a browser does (with the form's CSRF token); after a
    success the client sends its session's token in ``X-CSRF-Token`` on every request."""
    client.headers.pop("X-CSRF-Token", None)
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    if r.status_code == 303:
        client.headers["X-CSRF-Token"] = csrf_token(client, "/brands/-")  # any page
    return r


def login(client: TestClient, username: str) -> None:
    client.cookies.clear()
    r = web_login(client, username)
    assert r.status_code == 303, r.text
