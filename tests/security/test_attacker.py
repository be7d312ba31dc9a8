"""An attacker's script against a live server: ``windmaker serve`` on 127.0.0.1.

The server runs in its own process on a free loopback port, on the small market of
``tests/api/factories.py`` (operator ``op`` holds B1 and B3; brand user ``b2`` holds B2), with
its own temporary folder so that anything it spools is seen. Every attempt goes over a real
socket with httpx and must be refused with the status the test names; no traffic leaves
127.0.0.1, and the server is stopped when the module is done.

Known answers: the login throttle's free failures (5 per username, then 429 with
``Retry-After``); the body guard (401 before an unauthenticated body is read); the 100× ratio
cap on a 200 MiB sheet deflated to well under 1 MiB (415 naming the file); the write scope (an
upload for a brand outside the portfolio fails whole, with the brand named); read scoping
(404 outside scope, as if absent); CSRF (a foreign Origin or a missing token is 403 even with
the victim's session cookie); formula injection (an exported cell that starts with ``=`` is
text behind a quote).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest
from openpyxl import load_workbook

from tests.api.factories import PASSWORD, USERS, write_market
from tests.security.test_heavy_work import zip_bomb_xlsx
from windmaker.config import Settings

MIB = 1024 * 1024
HOST = "127.0.0.1"


@dataclass
class LiveServer:
    """The server process, its address, its workspace and its temporary folder."""

    url: str
    settings: Settings
    tmpdir: Path
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def scratch(self) -> list[Path]:
        """What uploads left on disk: scratch folders in the workspace, files in its tmp."""
        return [*self.settings.workspace.glob(".ingest-*"), *self.tmpdir.iterdir()]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from windmaker.workspace import init_workspace

    root = tmp_path_factory.mktemp("attacker")
    settings = init_workspace(root / "ws")
    write_market(settings)
    tmpdir = root / "server-tmp"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDMAKER_")}
    env["TMPDIR"] = str(tmpdir)
    port = _free_port()
    cmd = [sys.executable, "-m", "windmaker.cli.main", "serve", "-w", str(settings.workspace)]
    proc = subprocess.Popen(
        [*cmd, "--host", HOST, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"server exited with {proc.returncode}"
            assert time.monotonic() < deadline, "server did not start"
            try:
                if httpx.get(f"{url}/api/v1/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        tokens = {}
        for user in USERS:
            r = httpx.post(
                f"{url}/api/v1/auth/login", json={"username": user, "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            tokens[user] = r.json()["access_token"]
        yield LiveServer(url, settings, tmpdir, tokens)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode is not None


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as c:
        yield c


def _wait_job(client: httpx.Client, live: LiveServer, user: str, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=live.auth(user)).json()
        if job["status"] in ("succeeded", "failed"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def _brand_names(client: httpx.Client, live: LiveServer) -> dict[str, str]:
    r = client.get("/api/v1/brands", headers=live.auth("admin"), params={"page_size": 500})
    assert r.status_code == 200, r.text
    return {b["brand_id"]: b["name"] for b in r.json()["items"]}


def test_brute_force_on_login_is_throttled_and_others_still_log_in(
    client: httpx.Client, live: LiveServer
) -> None:
    """Five wrong passwords for ``op`` are 401; the sixth try, and then the right password,
    are 429 with a ``Retry-After`` of at least a second; ``admin`` logs in meanwhile."""
    for _ in range(5):
        r = client.post("/api/v1/auth/login", json={"username": "op", "password": "guess"})
        assert r.status_code == 401, r.text
    for password in ("guess", PASSWORD):
        r = client.post("/api/v1/auth/login", json={"username": "op", "password": password})
        assert r.status_code == 429, r.text
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["code"] == "too_many_attempts"
    r = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["access_token"]


def test_chunked_oversize_unauthenticated_upload_is_refused_unread(
    client: httpx.Client, live: LiveServer
) -> None:
    """64 MiB sent chunked (no Content-Length) without credentials: 401, and the server
    spools nothing (no scratch folder, nothing in its temporary folder)."""

    def body() -> Iterator[bytes]:
        for _ in range(64):
            yield b"\0" * MIB

    r = client.post(
        "/api/v1/ingest",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        content=body(),
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert live.scratch() == []


def test_zip_bomb_workbook_is_refused_with_the_reason(
    client: httpx.Client, live: LiveServer
) -> None:
    """A sheet of 200 MiB of zeros deflated to under 2 MiB, uploaded by an admin: 415 with
    the file and the reason in the message, and no brand lands."""
    before = _brand_names(client, live)
    bomb = zip_bomb_xlsx()
    assert len(bomb) < 2 * MIB
    r = client.post(
        "/api/v1/ingest",
        headers=live.auth("admin"),
        files={"file": ("bomb.xlsx", bomb)},
        data={"table": "brands"},
    )
    assert r.status_code == 415, r.text
    message = r.json()["error"]["message"]
    assert "bomb.xlsx" in message and "expands beyond" in message
    assert _brand_names(client, live) == before
    assert live.scratch() == []


def test_operator_upload_for_a_brand_outside_the_portfolio_does_not_land(
    client: httpx.Client, live: LiveServer
) -> None:
    """``op`` (B1, B3) renames B2 in a brands file beside an in-scope B3 row: the job is
    refused whole, naming B2, and neither row changes; the same write by an admin lands, so the
    refusal is the scope."""
    body = (
        b"brand_id,name,category,origin,joined_at\n"
        b"B3,Food Three renamed,food,traditional,2025-01-01\n"
        b"B2,pwned,beauty,traditional,2025-01-01\n"
    )
    r = client.post(
        "/api/v1/ingest",
        headers=live.auth("op"),
        files={"file": ("brands.csv", body)},
        data={"table": "brands"},
    )
    assert r.status_code == 202, r.text
    job = _wait_job(client, live, "op", r.json()["id"])
    assert job["status"] == "failed"
    assert "B2" in job["error"] and "outside your portfolio" in job["error"]
    names = _brand_names(client, live)
    assert (names["B2"], names["B3"]) == ("Beauty Two", "Food Three")
    assert live.scratch() == []


def test_brand_user_cannot_decide_or_refresh_or_upload(
    client: httpx.Client, live: LiveServer
) -> None:
    """``b2`` decides a provider's pending application, starts a refresh and uploads: each
    refused (403, or 404 for an application it may not see), the application stays pending,
    and no job of theirs exists."""
    r = client.post(
        "/api/v1/applications",
        headers=live.auth("admin"),
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
    )
    assert r.status_code == 201, r.text
    application = r.json()["application"]
    r = client.post(
        f"/api/v1/applications/{application['id']}/decision",
        headers=live.auth("b2"),
        json={"decision": "admitted", "note": "let me in"},
    )
    assert r.status_code in (403, 404), r.text
    r = client.get(f"/api/v1/applications/{application['id']}", headers=live.auth("admin"))
    assert r.json()["application"]["status"] == application["status"]
    r = client.post("/api/v1/refresh", headers=live.auth("b2"))
    assert r.status_code == 403, r.text
    r = client.post(
        "/api/v1/ingest",
        headers=live.auth("b2"),
        files={"file": ("brands.csv", b"brand_id,name\nB2,x\n")},
        data={"table": "brands"},
    )
    assert r.status_code == 403, r.text
    assert client.get("/api/v1/jobs", headers=live.auth("b2")).json() == []


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("b2", "/api/v1/brands/B1"),
        ("b2", "/api/v1/brands/B3/diagnosis"),
        ("b2", "/api/v1/providers/P1"),
        ("op", "/api/v1/brands/B2"),
        ("op", "/api/v1/brands/B4/radar"),
        ("p1", "/api/v1/brands/B2/metrics"),
        ("p1", "/api/v1/providers/P2"),
    ],
)
def test_reading_another_scope_is_404(
    client: httpx.Client, live: LiveServer, user: str, path: str
) -> None:
    """Outside the caller's scope an object does not exist for them; inside, it does."""
    r = client.get(path, headers=live.auth(user))
    assert r.status_code == 404, r.text
    assert client.get(path, headers=live.auth("admin")).status_code == 200


FOREIGN = "http://evil.example"
EVIL_NAME = '=HYPERLINK("http://evil.example","click")'


@contextmanager
def _web_session(live: LiveServer, username: str) -> Iterator[httpx.Client]:
    """A browser's session: the login form posted with its CSRF token, then the cookie."""
    with httpx.Client(base_url=live.url, timeout=60) as c:
        page = c.get("/login").text
        token = page.split('<meta name="csrf-token" content="', 1)[1].split('"', 1)[0]
        data = {"username": username, "password": PASSWORD, "csrf_token": token}
        r = c.post("/login", data=data)
        assert r.status_code == 303, r.text
        yield c


def _session_token(session: httpx.Client) -> str:
    page = session.get("/brands/B1").text
    return page.split('<meta name="csrf-token" content="', 1)[1].split('"', 1)[0]


def _action_items(client: httpx.Client, live: LiveServer) -> int:
    r = client.get("/api/v1/brands/B1/action-items", headers=live.auth("admin"))
    assert r.status_code == 200, r.text
    return len(r.json())


def test_csrf_from_a_foreign_origin_changes_nothing(client: httpx.Client, live: LiveServer) -> None:
    """Another site makes the admin's browser post with its session cookie: a web form with
    no token, the same form with the stolen token but a foreign Origin, a cookie-authenticated
    API write and a refresh are all 403 and nothing is assigned or started; the admin's own
    page, posting from its own origin with the token, assigns."""
    before = _action_items(client, live)
    with _web_session(live, "admin") as victim:
        token = _session_token(victim)
        form = {"action_id": "act_0", "owner": "admin"}
        foreign = {"Origin": FOREIGN}
        assert victim.post("/brands/B1/assign", data=form, headers=foreign).status_code == 403
        r = victim.post("/brands/B1/assign", data=form | {"csrf_token": token}, headers=foreign)
        assert r.status_code == 403
        r = victim.post("/api/v1/brands/B1/action-items", json=form, headers=foreign)
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_refused"
        assert victim.post("/data/refresh", headers=foreign).status_code == 403
        assert _action_items(client, live) == before
        jobs = client.get("/api/v1/jobs", headers=live.auth("admin")).json()
        assert not [j for j in jobs if j["kind"] == "refresh"]
        own = {"Origin": live.url, "Referer": f"{live.url}/brands/B1"}
        r = victim.post("/brands/B1/assign", data=form | {"csrf_token": token}, headers=own)
        assert r.status_code == 303, r.text
    assert _action_items(client, live) == before + 1


def test_formula_injection_in_a_brand_name_exports_as_text(
    client: httpx.Client, live: LiveServer
) -> None:
    """An admin's upload names B4 ``=HYPERLINK(...)``: the name lands as data, and the
    workbench's CSV and XLSX exports carry it behind a quote, as text, never a formula."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["brand_id", "name", "category", "origin", "joined_at"])
    writer.writerow(["B4", EVIL_NAME, "food", "traditional", "2025-01-01"])
    r = client.post(
        "/api/v1/ingest",
        headers=live.auth("admin"),
        files={"file": ("brands.csv", out.getvalue().encode())},
        data={"table": "brands"},
    )
    assert r.status_code == 202, r.text
    assert _wait_job(client, live, "admin", r.json()["id"])["status"] == "succeeded"
    assert _brand_names(client, live)["B4"] == EVIL_NAME
    with _web_session(live, "admin") as victim:
        english = {"Accept-Language": "en"}  # the exports' headers are in the reader's language
        exported = victim.get("/workbench/export.csv", headers=english)
        assert exported.status_code == 200
        rows = csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff")))
        found = {row["Brand ID"]: row["Brand"] for row in rows}
        assert found.get("B4") == "'" + EVIL_NAME, exported.text[:600]
        xlsx = victim.get("/workbench/export.xlsx", headers=english).content
        book = load_workbook(io.BytesIO(xlsx)).active
    assert book is not None
    header = [cell.value for cell in book[1]]
    key, label = header.index("Brand ID"), header.index("Brand")
    cell = {row[key].value: row for row in book.iter_rows(min_row=2)}["B4"][label]
    assert (cell.data_type, cell.value) == ("s", "'" + EVIL_NAME)
