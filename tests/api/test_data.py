"""Uploads and refresh jobs: who may, and bad input answered with a clear 4xx that writes nothing.

An upload answers 202 with a job; its ingestion runs off the request path and the job carries
the result (accepted and quarantined rows) or the refusal of the whole file.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.api.factories import brand_count
from windmaker.api.routers import data as data_router
from windmaker.config import Settings

BRANDS_GBK = "品牌ID,品牌名称,类目,品牌来源,入驻时间\nB7,新品牌,food,工厂升级,2026-03-01\nB8,坏来源,food,外星,2026-03-01\n"


def upload(client: TestClient, token: str, name: str, content: bytes, table: str | None = "brands"):  # type: ignore[no-untyped-def]
    data = {"table": table} if table else {}
    return client.post(
        "/api/v1/ingest", headers=auth(token), files={"file": (name, content)}, data=data
    )


def finished(client: TestClient, token: str, job: dict[str, Any]) -> dict[str, Any]:
    """Poll the job until it has finished (the upload's ingestion runs in the background)."""
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
        r = client.get(f"/api/v1/jobs/{job['id']}", headers=auth(token))
        assert r.status_code == 200, r.text
        job = r.json()
    return job


def test_admin_uploads_a_gbk_csv_and_reads_the_quarantine(
    client: TestClient, tokens: dict[str, str], market: Settings
) -> None:
    before = brand_count(market)
    r = upload(client, tokens["admin"], "品牌.csv", BRANDS_GBK.encode("gbk"), table=None)
    assert r.status_code == 202, r.text
    job = finished(client, tokens["admin"], r.json())
    assert job["kind"] == "ingest" and job["status"] == "succeeded", job
    body = job["result"]
    assert (body["table"], body["accepted"], body["quarantined"]) == ("brands", 1, 1)
    [row] = body["quarantine"]
    assert row["line"] == 3 and "origin" in row["reason"]
    assert row["values"]["品牌ID"] == "B8"
    assert brand_count(market) == before + 1


@pytest.mark.parametrize("user", ["p1", "b2"])
def test_only_staff_may_upload(
    user: str, client: TestClient, tokens: dict[str, str], market: Settings
) -> None:
    before = brand_count(market)
    r = upload(
        client,
        tokens[user],
        "b.csv",
        b"brand_id,name,category,origin,joined_at\nB9,x,food,traditional,2026-01-01\n",
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert brand_count(market) == before


def test_operator_may_upload(client: TestClient, tokens: dict[str, str]) -> None:
    """B3 is in the operator's portfolio (writes are scoped like reads)."""
    r = upload(
        client,
        tokens["op"],
        "b.csv",
        b"brand_id,name,category,origin,joined_at\nB3,x,food,traditional,2026-01-01\n",
    )
    assert r.status_code == 202, r.text
    job = finished(client, tokens["op"], r.json())
    assert job["status"] == "succeeded" and job["result"]["accepted"] == 1, job


def test_huge_upload_is_413_and_writes_nothing(
    client: TestClient, tokens: dict[str, str], market: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_router, "UPLOAD_LIMIT_BYTES", 1024)
    before = brand_count(market)
    content = (
        b"brand_id,name,category,origin,joined_at\n" + b"B11,x,food,traditional,2026-01-01\n" * 100
    )
    r = upload(client, tokens["admin"], "big.csv", content)
    assert r.status_code == 413
    assert (
        r.json()["error"]["code"] == "payload_too_large" and "MiB" in r.json()["error"]["message"]
    )
    assert brand_count(market) == before


def test_file_of_the_wrong_kind_is_415(
    client: TestClient, tokens: dict[str, str], market: Settings
) -> None:
    before = brand_count(market)
    r = upload(client, tokens["admin"], "photo.png", b"\x89PNG\r\n\x1a\n....")
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_file"
    r = upload(client, tokens["admin"], "notes.csv", b"foo,bar\n1,2\n", table=None)
    assert r.status_code == 202, r.text
    job = finished(client, tokens["admin"], r.json())
    assert job["status"] == "failed" and "notes.csv" in job["error"], job
    assert brand_count(market) == before


def test_unknown_table_is_422(client: TestClient, tokens: dict[str, str]) -> None:
    r = upload(client, tokens["admin"], "b.csv", b"a\n1\n", table="customers")
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation"


def test_malformed_json_is_400(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/applications",
        headers=auth(tokens["admin"]) | {"Content-Type": "application/json"},
        content=b'{"provider_id": "X", ',
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"


def test_wrong_types_are_422_with_the_field(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/applications",
        headers=auth(tokens["admin"]),
        json={
            "provider_id": "X1",
            "name": "n",
            "kind": "traffic_agency",
            "capabilities": ["traffic"],
            "categories": ["food"],
            "team_size": "many",
            "gmv_served_12m": "1",
            "capacity": 1,
        },
    )
    assert r.status_code == 422
    assert any(d["loc"][-1] == "team_size" for d in r.json()["error"]["detail"])
    assert client.get("/api/v1/providers/X1", headers=auth(tokens["admin"])).status_code == 404


@pytest.mark.parametrize("user", ["p1", "b2"])
def test_only_staff_may_refresh(user: str, client: TestClient, tokens: dict[str, str]) -> None:
    r = client.post("/api/v1/refresh", headers=auth(tokens[user]))
    assert r.status_code == 403


def test_refresh_job_reports_progress_and_result(
    client: TestClient, tokens: dict[str, str]
) -> None:
    """This market holds results but no orders: the job finishes and says there was nothing to do.
    (The pipeline on a simulated market is tested in tests/test_pipeline.py.)"""
    r = client.post("/api/v1/refresh", headers=auth(tokens["admin"]))
    assert r.status_code == 202
    job = r.json()
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(f"/api/v1/refresh/{job['id']}", headers=auth(tokens["op"])).json()
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0
    assert job["result"]["skipped"].startswith("no orders")


def test_declared_oversize_is_refused_before_the_body_is_read(
    client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_router, "UPLOAD_LIMIT_BYTES", 10)
    r = client.post(
        "/api/v1/ingest",
        headers=auth(tokens["admin"]) | {"Content-Type": "multipart/form-data; boundary=x"},
        content=b"x" * 100_000,
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
