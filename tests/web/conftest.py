from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from windmaker.api.app import create_app
from windmaker.cli.main import app as cli
from windmaker.config import Settings
from windmaker.workspace import open_warehouse

PASSWORD = "windmaker-demo"


@pytest.fixture(scope="session")
def web_market(diagnosed_market: Settings) -> Settings:
    """The diagnosed simulated market with the demo users (admin, operator, provider, brand)."""
    result = CliRunner().invoke(
        cli, ["users", "demo", "-w", str(diagnosed_market.workspace), "--portfolio-size", "10"]
    )
    assert result.exit_code == 0, result.output
    return diagnosed_market


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


@pytest.fixture(scope="session")
def scopes(web_market: Settings) -> dict[str, set[str]]:
    """The brands each demo user sees, read back from the store the way the API does."""
    from windmaker.store import brands_in_scope, engine_for, get_user_by_name, open_session

    with open_warehouse(web_market) as wh:
        every = set(wh.execute(wh.table("brands").select("brand_id"))["brand_id"])
    out = {}
    with open_session(engine_for(web_market)) as s:
        for name in ("admin", "operator", "provider", "brand"):
            user = get_user_by_name(s, username=name)
            assert user is not None
            scope = brands_in_scope(s, user=user)
            out[name] = every if scope.unrestricted else set(scope.brand_ids)
    return out
