from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.factories import PASSWORD, USERS, write_market
from windmaker.api.app import create_app
from windmaker.config import Settings


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from windmaker.workspace import init_workspace

    settings = init_workspace(tmp_path_factory.mktemp("api") / "ws")
    write_market(settings)
    return settings


@pytest.fixture(scope="module")
def client(market: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(market)) as c:
        yield c


@pytest.fixture(scope="module")
def tokens(client: TestClient) -> dict[str, str]:
    out = {}
    for username in USERS:
        r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[username] = r.json()["access_token"]
    return out


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
