"""Model fits as a server's background job: staff only, one at a time, stored in one
transaction, and the diagnosis read again with the fitted scores.

Known answers: a copy of the shared diagnosed market (fitted without models) gains a
lifetime-value row for each brand the fit reports, and traffic curves; a brand user is refused
(403) and starts nothing; a second request while a fit is queued or running gets the same job.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from windmaker import results
from windmaker.config import Settings, load_settings
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal, workspace_admin
from windmaker.services.jobs import Jobs
from windmaker.services.models import FIT_JOB_KIND, start_fit
from windmaker.workspace import open_warehouse

BRAND_USER = Principal(user_id=9, username="b", role="brand", brand_scope=frozenset({"B1"}))


@pytest.fixture
def market(diagnosed_market: Settings, tmp_path: Path) -> Settings:
    shutil.copytree(diagnosed_market.workspace, tmp_path / "ws")
    return load_settings(tmp_path / "ws")


def _rows(settings: Settings, name: str) -> int:
    with open_warehouse(settings) as wh:
        if name not in wh.tables():
            return 0
        return int(wh.execute(wh.table(name).count()))


def test_a_fit_job_stores_the_models_and_diagnoses_again(market: Settings) -> None:
    jobs = Jobs({FIT_JOB_KIND: 1})
    with pytest.raises(ServiceError) as refused:
        start_fit(jobs, market, BRAND_USER)
    assert refused.value.status == 403
    assert jobs.running(FIT_JOB_KIND) is None
    assert _rows(market, results.CLV_BRAND) == 0

    reloaded: list[bool] = []
    admin = workspace_admin("test")
    job = start_fit(jobs, market, admin, after=lambda: reloaded.append(True))
    again = start_fit(jobs, market, admin)
    assert again.id == job.id
    done = jobs.wait(job.id, timeout=600)
    assert done is not None and done.status == "succeeded", done
    assert done.result is not None
    assert done.result["clv_brands"] > 0 and done.result["traffic_curves"] > 0
    assert _rows(market, results.CLV_BRAND) == done.result["clv_brands"]
    assert _rows(market, results.TRAFFIC_CURVES) == done.result["traffic_curves"]
    assert _rows(market, results.MODEL_SCORES) > 0
    assert reloaded == [True]
