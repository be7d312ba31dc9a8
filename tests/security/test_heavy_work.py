"""Heavy work off the request path: uploads run as bounded jobs, bodies are guarded while they
stream, compressed inputs are capped, and jobs are their owners'.

Known answers: an unauthenticated upload is refused before the server asks for one byte of its
body; a body past the limit is cut off with 413 and leaves no file; a workbook whose sheet
inflates from about 0.2 MiB to 200 MiB (1,000×) is refused by the 100× ratio cap; a read is
answered while an upload's ingestion is still running; another user's job is a 404.
"""

from __future__ import annotations

import gzip
import io
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.factories import PASSWORD, USERS, brand_count, write_market
from tests.loops import run_on_own_loop
from windmaker.api.app import create_app
from windmaker.api.routers import data as data_router
from windmaker.config import Settings
from windmaker.services import ingest as ingest_service
from windmaker.services.identity import workspace_admin
from windmaker.services.jobs import Jobs

HEADER = b"brand_id,name,category,origin,joined_at\n"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from windmaker.workspace import init_workspace

    settings = init_workspace(tmp_path_factory.mktemp("heavy") / "ws")
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


def upload_folders(settings: Settings) -> list[Path]:
    return sorted(settings.workspace.glob(".ingest-*"))


def multipart(name: str, content: bytes, boundary: str = "wmboundary") -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


def test_reads_are_answered_while_an_upload_is_ingested(
    client: TestClient, tokens: dict[str, str], market: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 40,000-row brands file is queued as a job; its ingestion is held until a read has been
    answered, so the read provably happens while the job runs (a blocking upload route would
    never return the 202 and the job would fail on the gate's timeout)."""
    release = threading.Event()
    real_ingest = ingest_service.ingest

    def held_ingest(*args: Any, **kwargs: Any) -> Any:
        if not release.wait(timeout=60):
            raise RuntimeError("the upload route did not return while its ingestion was held")
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(ingest_service, "ingest", held_ingest)
    rows = b"".join(b"BX%06d,n%d,food,traditional,2026-01-01\n" % (i, i) for i in range(40_000))
    before = brand_count(market)
    r = client.post(
        "/api/v1/ingest",
        headers=auth(tokens["admin"]),
        files={"file": ("brands.csv", HEADER + rows)},
        data={"table": "brands"},
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    jobs: Jobs = client.app.state.windmaker.jobs  # type: ignore[attr-defined]
    read = client.get("/api/v1/brands", headers=auth(tokens["op"]))
    status_during_read = jobs.get(job_id).status  # type: ignore[union-attr]
    release.set()
    assert read.status_code == 200 and read.json()["total"] >= 1
    assert status_during_read in ("queued", "running")
    done = jobs.wait(job_id, timeout=120)
    assert done is not None and done.status == "succeeded", done
    assert done.result is not None and done.result["accepted"] == 40_000
    assert brand_count(market) == before + 40_000
    assert upload_folders(market) == []


def test_unauthenticated_chunked_upload_is_refused_before_its_body_is_read(
    client: TestClient, market: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """50 MiB offered in 1 MiB chunks without credentials: 401, and the app never asks for a
    chunk (the ASGI ``receive`` is not called), so nothing is spooled anywhere."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    app = client.app
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"\0" * MIB, "more_body": asked < 50}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/ingest",
        "raw_path": b"/api/v1/ingest",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"transfer-encoding", b"chunked"),
            (b"content-type", b"multipart/form-data; boundary=wmboundary"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "app": app,
    }
    run_on_own_loop(lambda: app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 401
    assert asked == 0
    assert list(tmp_path.iterdir()) == [] and upload_folders(market) == []

    def body() -> Iterator[bytes]:
        for _ in range(50):
            yield b"\0" * MIB

    r = client.post(
        "/api/v1/ingest",
        headers={"Content-Type": "multipart/form-data; boundary=wmboundary"},
        content=body(),
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert list(tmp_path.iterdir()) == [] and upload_folders(market) == []


def test_oversized_chunked_body_is_cut_off_with_413(
    client: TestClient, tokens: dict[str, str], market: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Content-Length (chunked): the bytes are counted as they stream; 1 MiB limit, 5 MiB sent."""
    monkeypatch.setattr(data_router, "UPLOAD_LIMIT_BYTES", MIB)
    before = brand_count(market)
    payload = multipart("big.csv", HEADER + b"BY1,x,food,traditional,2026-01-01\n" * 160_000)
    assert len(payload) > 5 * MIB

    def body() -> Iterator[bytes]:
        view = memoryview(payload)
        for start in range(0, len(payload), 256 * 1024):
            yield bytes(view[start : start + 256 * 1024])

    r = client.post(
        "/api/v1/ingest",
        headers=auth(tokens["admin"])
        | {"Content-Type": "multipart/form-data; boundary=wmboundary"},
        content=body(),
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"
    assert brand_count(market) == before and upload_folders(market) == []


def zip_bomb_xlsx(unpacked: int = 200 * MIB) -> bytes:
    """A workbook-shaped zip whose one sheet is ``unpacked`` bytes of zeros, deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            chunk = b"0" * MIB
            for _ in range(unpacked // MIB):
                sheet.write(chunk)
    return out.getvalue()


def test_zip_bomb_workbook_is_refused_with_the_reason(
    client: TestClient, tokens: dict[str, str], market: Settings
) -> None:
    """200 MiB of zeros deflate to well under 1 MiB: over the 100× ratio cap, refused at once."""
    bomb = zip_bomb_xlsx()
    assert len(bomb) < 2 * MIB
    before = brand_count(market)
    r = client.post(
        "/api/v1/ingest",
        headers=auth(tokens["admin"]),
        files={"file": ("炸弹.xlsx", bomb)},
        data={"table": "brands"},
    )
    assert r.status_code == 415, r.text
    message = r.json()["error"]["message"]
    assert "炸弹.xlsx" in message and "expands beyond" in message
    assert brand_count(market) == before and upload_folders(market) == []


def test_gzip_bomb_stops_inflating_at_the_cap(
    client: TestClient, tokens: dict[str, str], market: Settings
) -> None:
    """A gzip of 200 MiB of text is refused by its job, inflated no further than the cap
    (100× its compressed size), and nothing lands."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
        gz.write(HEADER)
        line = b"BZ1,x,food,traditional,2026-01-01\n" * 30_000
        for _ in range(200 * MIB // len(line)):
            gz.write(line)
    before = brand_count(market)
    r = client.post(
        "/api/v1/ingest",
        headers=auth(tokens["admin"]),
        files={"file": ("brands.csv.gz", buf.getvalue())},
        data={"table": "brands"},
    )
    assert r.status_code == 202, r.text
    jobs: Jobs = client.app.state.windmaker.jobs  # type: ignore[attr-defined]
    done = jobs.wait(r.json()["id"], timeout=120)
    assert done is not None and done.status == "failed", done
    assert done.error is not None and "brands.csv.gz: expands beyond" in done.error
    assert brand_count(market) == before and upload_folders(market) == []


def test_a_small_gzip_csv_lands(
    client: TestClient, tokens: dict[str, str], market: Settings
) -> None:
    """The caps refuse bombs, not ordinary compressed exports: one row in a .csv.gz lands."""
    content = gzip.compress(HEADER + b"BG1,x,food,traditional,2026-01-01\n")
    before = brand_count(market)
    r = client.post(
        "/api/v1/ingest",
        headers=auth(tokens["admin"]),
        files={"file": ("brands.csv.gz", content)},
        data={"table": "brands"},
    )
    assert r.status_code == 202, r.text
    jobs: Jobs = client.app.state.windmaker.jobs  # type: ignore[attr-defined]
    done = jobs.wait(r.json()["id"], timeout=120)
    assert done is not None and done.status == "succeeded", done
    assert done.result is not None and done.result["accepted"] == 1
    assert brand_count(market) == before + 1


def test_a_user_cannot_see_another_users_job(client: TestClient, tokens: dict[str, str]) -> None:
    """The operator's upload is theirs and the admin's; the admin's upload is not the operator's."""
    r = client.post(
        "/api/v1/ingest",
        headers=auth(tokens["admin"]),
        files={"file": ("b.csv", HEADER + b"B4,x,food,traditional,2026-01-01\n")},
        data={"table": "brands"},
    )
    assert r.status_code == 202, r.text
    admins = r.json()["id"]
    r = client.post(
        "/api/v1/ingest",
        headers=auth(tokens["op"]),
        files={"file": ("b.csv", HEADER + b"B3,y,food,traditional,2026-01-01\n")},
        data={"table": "brands"},
    )
    assert r.status_code == 202, r.text
    ops = r.json()["id"]
    assert client.get(f"/api/v1/jobs/{admins}", headers=auth(tokens["op"])).status_code == 404
    assert client.get(f"/data/jobs/{admins}", headers=auth(tokens["op"])).status_code == 404
    assert client.get(f"/api/v1/jobs/{ops}", headers=auth(tokens["op"])).status_code == 200
    assert client.get(f"/api/v1/jobs/{ops}", headers=auth(tokens["admin"])).status_code == 200
    op_list = {j["id"] for j in client.get("/api/v1/jobs", headers=auth(tokens["op"])).json()}
    admin_list = {j["id"] for j in client.get("/api/v1/jobs", headers=auth(tokens["admin"])).json()}
    assert ops in op_list and admins not in op_list
    assert {ops, admins} <= admin_list
    assert client.get(f"/api/v1/jobs/{ops}", headers=auth(tokens["b2"])).status_code == 404


def test_a_kind_runs_no_more_jobs_at_once_than_its_limit() -> None:
    """Ingest limit 1: while the first job is held, the second waits queued; both then finish."""
    jobs = Jobs({"ingest": 1})
    gate = threading.Event()
    first = jobs.start("ingest", lambda p: {"held": gate.wait(30)}, join_running=False)
    second = jobs.start("ingest", lambda p: {"ran": True}, join_running=False)
    owner = workspace_admin("test")
    assert first.id != second.id and jobs.get(second.id).status == "queued"  # type: ignore[union-attr]
    gate.set()
    assert jobs.wait(first.id, 30).status == "succeeded"  # type: ignore[union-attr]
    assert jobs.wait(second.id, 30).result == {"ran": True}  # type: ignore[union-attr]
    assert owner.role == "admin" and len(jobs.visible(owner)) == 2
    jobs.shutdown()
