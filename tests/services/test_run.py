"""The ingest and run use cases, and the dashboard's data handlers that call them.

Known answers: a warehouse without orders has nothing to run; only staff may write data or
start the main job; a GBK file with one good and one bad brand lands one row and quarantines the
other, through the dashboard exactly as through the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.factories import brand_count
from tests.loops import run_on_own_loop
from tests.web.conftest import web_login
from windmaker.config import Settings
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal, workspace_admin
from windmaker.services.ingest import ingest_upload
from windmaker.services.jobs import Jobs
from windmaker.services.run import JOB_KIND, RunResult, run_pipeline, start_run

BRANDS_GBK = "品牌ID,品牌名称,类目,品牌来源,入驻时间\nB7,新品牌,food,工厂升级,2026-03-01\nB8,坏来源,food,外星,2026-03-01\n"
PASSWORD = "windmaker-test"
BRAND_USER = Principal(user_id=9, username="b", role="brand", brand_scope=frozenset({"B1"}))


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


def test_main_job_on_an_empty_warehouse_skips_every_step(workspace: Settings) -> None:
    out = run_pipeline(workspace)
    assert isinstance(out, RunResult)
    assert out.skipped is not None and out.skipped.startswith("no orders")
    assert out.as_dict() == {"seconds": {}, "skipped": out.skipped}


def test_only_staff_start_the_main_job(workspace: Settings) -> None:
    jobs = Jobs()
    with pytest.raises(ServiceError) as refused:
        start_run(jobs, workspace, BRAND_USER)
    assert refused.value.status == 403
    assert jobs.running(JOB_KIND) is None
    job = start_run(jobs, workspace, workspace_admin("test"))
    done = jobs.wait(job.id, timeout=120)
    assert done is not None and done.status == "succeeded", done
    assert done.result is not None and done.result["skipped"].startswith("no orders")


def test_upload_refuses_a_brand_user_and_writes_nothing(workspace: Settings) -> None:
    before = brand_count(workspace)
    with pytest.raises(ServiceError) as refused:
        run_on_own_loop(
            lambda: ingest_upload(
                workspace, BRAND_USER, "b.csv", _one_chunk(BRANDS_GBK.encode("gbk"))
            )
        )
    assert refused.value.status == 403
    assert brand_count(workspace) == before


@pytest.fixture
def dashboard(workspace: Settings) -> Iterator[TestClient]:
    """The app on a fresh workspace with an admin and a brand user, the admin logged in."""
    from windmaker.api.app import create_app
    from windmaker.store import create_user, engine_for, open_session, upgrade

    engine = engine_for(workspace)
    upgrade(engine)
    with open_session(engine) as s:
        create_user(s, username="admin", password=PASSWORD, role="admin", actor="test")
        create_user(
            s, username="brand", password=PASSWORD, role="brand", actor="test", brand_id="B1"
        )
    engine.dispose()
    with TestClient(create_app(workspace)) as client:
        r = web_login(client, "admin", PASSWORD)
        assert r.status_code == 303, r.text
        yield client


def test_dashboard_upload_lands_the_good_row_and_shows_the_quarantine(
    dashboard: TestClient, workspace: Settings
) -> None:
    before = brand_count(workspace)
    r = dashboard.post(
        "/data/upload", files={"file": ("品牌.csv", BRANDS_GBK.encode("gbk"))}, data={}
    )
    assert r.status_code == 200, r.text
    jobs = dashboard.app.state.windmaker.jobs  # type: ignore[attr-defined]
    job_id = r.text.split('data-job-id="', 1)[1].split('"', 1)[0]
    assert jobs.wait(job_id, timeout=120).status == "succeeded"
    done = dashboard.get(f"/data/jobs/{job_id}")
    assert "accepted-count" in done.text and ": 1</span>" in done.text
    assert brand_count(workspace) == before + 1
    bad = dashboard.post("/data/upload", files={"file": ("photo.png", b"\x89PNG....")})
    assert bad.status_code == 415
    assert brand_count(workspace) == before + 1


def test_dashboard_refresh_runs_the_main_job(dashboard: TestClient) -> None:
    r = dashboard.post("/data/refresh")
    assert r.status_code == 200 and 'id="job"' in r.text
    jobs = dashboard.app.state.windmaker.jobs  # type: ignore[attr-defined]
    job = jobs.running(JOB_KIND) or next(iter(jobs._jobs.values()))
    done = jobs.wait(job.id, timeout=120)
    assert done.status == "succeeded" and done.result["skipped"].startswith("no orders")


def test_brand_user_cannot_reach_the_data_handlers(
    dashboard: TestClient, workspace: Settings
) -> None:
    dashboard.cookies.clear()
    r = web_login(dashboard, "brand", PASSWORD)
    assert r.status_code == 303
    before = brand_count(workspace)
    assert dashboard.post("/data/refresh").status_code == 404
    up = dashboard.post("/data/upload", files={"file": ("b.csv", BRANDS_GBK.encode("gbk"))})
    assert up.status_code == 404
    assert brand_count(workspace) == before
