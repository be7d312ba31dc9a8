"""A running ``windmaker serve`` killed with SIGKILL in the middle of an upload.

Two moments: while the file is still streaming in (the test kills the server after sending
half of a chunked body; the body is still in the request parser's spool, never in the
workspace), and while the upload's ingest is committing (the server kills itself
at the ``commit`` fault point, :mod:`windmaker.warehouse.faults`). Either way the workspace
keeps its last complete state (every result table's row count, the net GMV total and the
refresh bookkeeping unchanged, and not one order of the upload), the restarted server removes
the killed upload's scratch folder, and the same file then uploads in full. The market and
the checks are the fault tests' (``tests/security/conftest.py``, ``test_faults._state``).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pandas as pd
import pytest

from tests.security.test_faults import _orders, _state
from windmaker.config import Settings
from windmaker.ingest.loader import SCRATCH_PREFIX
from windmaker.store import engine_for, open_session
from windmaker.store.users import create_user

PASSWORD = "serve-kill-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(
    settings: Settings, fault: str | None = None, options: tuple[str, ...] = ()
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``windmaker serve [options]`` in its own process on 127.0.0.1, answering before this
    yields."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDMAKER_")}
    if fault:
        env["WINDMAKER_FAULT_AT"] = fault
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "windmaker.cli.main",
        "serve",
        "--workspace",
        str(settings.workspace),
    ]
    proc = subprocess.Popen(
        [*command, *options, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError((proc.stderr.read() if proc.stderr else b"").decode()[-2000:])
            try:
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("windmaker serve did not answer")
            time.sleep(0.2)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def _token(url: str) -> str:
    r = httpx.post(
        f"{url}/api/v1/auth/login", json={"username": "root", "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _scratch(settings: Settings) -> list[Path]:
    return sorted(settings.workspace.glob(f"{SCRATCH_PREFIX}*"))


@pytest.fixture
def served(ws: Settings) -> Settings:
    """The fault tests' workspace with an admin who uploads."""
    engine = engine_for(ws)
    with open_session(engine) as session:
        create_user(session, username="root", password=PASSWORD, role="admin", actor="test")
    engine.dispose()
    return ws


def _upload(url: str, token: str, path: Path) -> dict[str, object]:
    """Upload through the API and wait for the ingest job's end."""
    with path.open("rb") as f:
        r = httpx.post(
            f"{url}/api/v1/ingest",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": (path.name, f, "application/octet-stream")},
            timeout=120,
        )
    assert r.status_code == 202, r.text
    job = r.json()
    deadline = time.monotonic() + 300
    while job["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
        job = httpx.get(
            f"{url}/api/v1/jobs/{job['id']}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
    return dict(job)


def test_serve_killed_while_an_upload_streams_in(
    served: Settings, template: tuple[Path, Path]
) -> None:
    """Half of a chunked upload sent, then SIGKILL: nothing of it lands, the restarted server
    removes its scratch folder, and the whole file then uploads."""
    new = template[1]
    before_orders, before = _orders(served), _state(served)
    body = new.read_bytes()
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{new.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    with _server(served) as (proc, url):
        token = _token(url)
        conn = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=30)
        conn.putrequest("POST", "/api/v1/ingest")
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        half = head + body[: len(body) // 2]
        for i in range(0, len(half), 4096):
            piece = half[i : i + 4096]
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        time.sleep(1.0)  # the server is reading the body
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
        conn.close()
    assert _orders(served) == before_orders
    assert _state(served) == before
    with _server(served) as (_, url):
        assert _scratch(served) == []
        job = _upload(url, _token(url), new)
    assert job["status"] == "succeeded", job
    assert _orders(served) == before_orders + len(pd.read_parquet(new))


def test_serve_killed_while_an_upload_commits(
    served: Settings, template: tuple[Path, Path]
) -> None:
    """The server dies by SIGKILL inside the ingest's commit (every row written, none
    committed): the workspace is as before, and after a restart the same file lands in full."""
    new = template[1]
    before_orders, before = _orders(served), _state(served)
    with _server(served, fault="commit") as (proc, url):
        token = _token(url)
        with new.open("rb") as f:
            r = httpx.post(
                f"{url}/api/v1/ingest",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": (new.name, f, "application/octet-stream")},
                timeout=120,
            )
        assert r.status_code == 202, r.text
        assert proc.wait(120) == -signal.SIGKILL
    assert _scratch(served), "the killed upload left its folder (what the restart must remove)"
    assert _orders(served) == before_orders
    assert _state(served) == before
    with _server(served) as (_, url):
        assert _scratch(served) == []
        job = _upload(url, _token(url), new)
    assert job["status"] == "succeeded", json.dumps(job)[:2000]
    assert _orders(served) == before_orders + len(pd.read_parquet(new))
