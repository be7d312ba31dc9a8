from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import DEMO_PASSWORD as PASSWORD
from windmaker.api.app import create_app
from windmaker.config import Settings


@pytest.fixture(scope="module")
def web(web_market: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(web_market)) as c:
        yield c


def login(client: TestClient, username: str) -> None:
    client.cookies.clear()
    r = client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
