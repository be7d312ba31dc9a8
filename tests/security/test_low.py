"""The audit's Low findings: a key column as a metric, a NUL in a file name, server paths in
ingest errors, the month in a download's name, and `serve` on a network address.

Each test states its known answer: the status and reason the request must get, or that the
text a user reads holds no folder of the server.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.factories import PASSWORD
from tests.loops import run_on_own_loop
from windmaker.api.app import create_app
from windmaker.cli import serve as serve_cli
from windmaker.cli.main import app as cli_app
from windmaker.config import Settings
from windmaker.reports import service as reports
from windmaker.services import ingest, users
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal, workspace_admin
from windmaker.store import engine_for, open_session
from windmaker.views import ReadModel
from windmaker.workspace import open_warehouse

BRAND_USER = Principal(
    user_id=4, username="b2", role="brand", brand_scope=frozenset({"B2"}), brand_id="B2"
)


@pytest.fixture
def client(market: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(market)) as c:
        yield c


def _auth(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_metric_period_is_a_422_naming_the_parameter(client: TestClient) -> None:
    """``period`` is the series' key, not a metric: 422 with ``metric`` in the error's
    location (it was a 500); a real metric still answers its series."""
    headers = _auth(client, "admin")
    r = client.get("/api/v1/brands/B1/metrics?metric=period", headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["detail"][0]["loc"] == ["query", "metric"]
    ok = client.get("/api/v1/brands/B1/metrics?metric=net_gmv", headers=headers)
    assert ok.status_code == 200
    assert {tuple(sorted(row)) for row in ok.json()["rows"]} == {("net_gmv", "period")}


def test_nul_byte_in_an_upload_name_is_refused_with_a_reason(client: TestClient) -> None:
    """A file name holding a NUL byte is refused (415 ``unsupported_file`` with a reason),
    never a 500 and never quietly renamed."""
    boundary = "wmboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="brands\x00.csv"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode() + b"brand_id,name\r\n--wmboundary--\r\n"
    r = client.post(
        "/api/v1/ingest",
        headers={
            **_auth(client, "admin"),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        content=body,
    )
    assert r.status_code in (415, 422), r.text
    assert "control character" in r.json()["error"]["message"]


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    yield body


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("orders.xlsx", b"not a workbook"),
        ("orders.csv.gz", b"not gzip"),
        ("orders.parquet", b"PAR1 cut off"),
        ("orders.csv", b"foo,bar\n1,2\n"),
    ],
)
def test_ingest_errors_name_the_file_not_the_servers_folders(
    market: Settings, name: str, body: bytes
) -> None:
    """The refusal names the uploaded file and no folder of the server (the workspace, its
    scratch folder)."""
    with pytest.raises(ServiceError) as caught:
        run_on_own_loop(
            lambda: ingest.ingest_upload(market, workspace_admin("t"), name, _chunks(body))
        )
    text = f"{caught.value} {caught.value.values} {caught.value.detail}"
    assert name in text
    assert str(market.workspace) not in text and "/" not in text.replace("(s)", "")


class _Printer:
    def print(self, html: str) -> bytes:
        return b"%PDF-1.4"


def test_month_reaches_the_download_name_only_as_safe_characters(market: Settings) -> None:
    """A ``month`` that parses as a month but carries a quote and a second file name gives the
    download the report's own name: ``brand-B2-2026-10-en.pdf``."""
    with open_warehouse(market) as wh:
        rm = ReadModel.of(wh)
        made = reports.brand_report(
            rm, BRAND_USER, "B2", '2026-10-"; filename="evil.exe', "en", True, printer=_Printer()
        )
    assert made.filename == "brand-B2-2026-10-en.pdf"
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", made.filename)


def _demo_users(settings: Settings) -> None:
    engine = engine_for(settings)
    with open_warehouse(settings) as wh, open_session(engine) as session:
        users.create_demo_users(session, wh, workspace_admin("demo"), portfolio_size=2)
    engine.dispose()


def test_serve_refuses_a_network_address_while_demo_users_exist(
    market: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With demo users on the demo password, ``serve --host 0.0.0.0`` exits 2 naming them;
    loopback serves, and so does the network with ``--allow-demo-users-on-network``."""
    import uvicorn

    served: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: served.append(host))
    monkeypatch.setenv("WINDMAKER_SECRET_KEY", "a-secret-of-this-deployment")
    _demo_users(market)
    ws = ["--workspace", str(market.workspace)]
    runner = CliRunner()
    refused = runner.invoke(cli_app, ["serve", "--host", "0.0.0.0", *ws])
    assert refused.exit_code == 2 and served == []
    # the market's own admin has another password: only the demo-created users count
    assert "demo users (operator, provider, brand)" in " ".join(refused.output.split())
    assert runner.invoke(cli_app, ["serve", "--host", "127.0.0.1", *ws]).exit_code == 0
    allowed = ["serve", "--host", "0.0.0.0", "--allow-demo-users-on-network", *ws]
    assert runner.invoke(cli_app, allowed).exit_code == 0
    assert served == ["127.0.0.1", "0.0.0.0"]


def test_serve_refuses_a_network_address_with_the_default_secret(
    market: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No demo users, but the shipped ``secret_key``: a network address exits 2."""
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: None)
    r = CliRunner().invoke(
        cli_app, ["serve", "--host", "0.0.0.0", "--workspace", str(market.workspace)]
    )
    assert r.exit_code == 2 and "secret_key" in r.output
    assert serve_cli.is_loopback("::1") and not serve_cli.is_loopback("myhost.example")
