"""Model fits as a server's background job: staff only, one at a time, stored in one
transaction, and the diagnosis read again with the fitted scores.

Known answers: a copy of the shared diagnosed market (diagnosed without models) gains a
lifetime-value row for each brand the fit reports, and traffic curves; a brand user is refused
(403) and starts nothing; a second request while a fit is queued or running gets the same job;
a server started with ``fit_models`` (``windmaker serve --fit-models``, the demo) answers at once,
shows the fit on the admin's data page, and reads the fitted models once it is stored.
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

#: Cheaper fits than the shipped ones (no Pareto/NBD, one traffic start, 90 days): these tests
#: are about the job and the keys, not fit quality, which tests/models holds to known answers.
FAST_MODELS = """\
version: 1
clv:
  pareto_nbd: false
traffic:
  alpha_starts: [0.4]
  history_days: 90
"""


@pytest.fixture
def market(diagnosed_market: Settings, tmp_path: Path) -> Settings:
    shutil.copytree(diagnosed_market.workspace, tmp_path / "ws")
    return load_settings(tmp_path / "ws")


def _rows(settings: Settings, name: str) -> int:
    with open_warehouse(settings) as wh:
        if name not in wh.tables():
            return 0
        return int(wh.execute(wh.table(name).count()))


def test_only_staff_fit(market: Settings) -> None:
    jobs = Jobs({FIT_JOB_KIND: 1})
    with pytest.raises(ServiceError) as refused:
        start_fit(jobs, market, BRAND_USER)
    assert refused.value.status == 403
    assert jobs.running(FIT_JOB_KIND) is None
    assert _rows(market, results.CLV_BRAND) == 0


def test_a_server_fits_the_models_once_it_answers(market: Settings) -> None:
    from fastapi.testclient import TestClient

    from tests.web.conftest import web_login
    from windmaker.api.app import create_app
    from windmaker.store import create_user, engine_for, open_session

    engine = engine_for(market)
    with open_session(engine) as s:
        create_user(s, username="root", password="fit-password", role="admin", actor="test")
    engine.dispose()
    config = market.workspace / "fast-config"
    config.mkdir()
    (config / "models.yaml").write_text(FAST_MODELS, encoding="utf-8")
    market = market.model_copy(update={"config_dir": config})
    with TestClient(create_app(market, fit_models=True)) as client:
        jobs = client.app.state.windmaker.jobs  # type: ignore[attr-defined]
        job = jobs.running(FIT_JOB_KIND)
        assert job is not None  # started with the server, before any request
        assert start_fit(jobs, market, workspace_admin("test")).id == job.id  # joins it
        assert web_login(client, "root", "fit-password").status_code == 303
        page = client.get("/data").text
        assert 'id="fit-job"' in page and "模型拟合" in page
        done = jobs.wait(job.id, timeout=900)
        assert done is not None and done.status == "succeeded", done
        assert done.result is not None
        assert done.result["clv_brands"] > 0 and done.result["traffic_curves"] > 0
        assert _rows(market, results.CLV_BRAND) == done.result["clv_brands"]
        assert _rows(market, results.TRAFFIC_CURVES) == done.result["traffic_curves"]
        assert _rows(market, results.MODEL_SCORES) > 0
        # the read model was reloaded: the server reads the fitted models without a restart
        rm = client.app.state.windmaker.readmodel  # type: ignore[attr-defined]
        assert len(rm.snap.frame(results.CLV_BRAND)) == done.result["clv_brands"]


def test_a_fit_on_unchanged_data_and_settings_is_kept(market: Settings) -> None:
    """Keyed by data and settings: a second fit of the same orders with the same settings keeps
    the stored tables (same rows, same fit time); ``workers`` alone changes nothing; one
    changed order, or one changed setting that shapes the fit, fits again."""
    from windmaker.models.clv import ClvConfig
    from windmaker.models.traffic import TrafficConfig
    from windmaker.services.fit_state import FIT_STATE
    from windmaker.services.models import UNCHANGED, fit_clv, fit_traffic

    def fast_clv(**settings: object) -> ClvConfig:
        return ClvConfig(**({"pareto_nbd": False} | settings))  # type: ignore[arg-type]

    def fast_traffic() -> TrafficConfig:
        return TrafficConfig(alpha_starts=(0.4,), history_days=90)

    def state(wh: object) -> dict[str, object]:
        df = wh.execute(wh.table(FIT_STATE))  # type: ignore[attr-defined]
        return dict(zip(df["model"], df["fitted_at"], strict=True))

    with open_warehouse(market) as wh:
        first = fit_clv(wh, fast_clv())
        curves, _ = fit_traffic(wh, fast_traffic())
        assert UNCHANGED not in first.attrs and UNCHANGED not in curves.attrs
        assert not first.empty and not curves.empty
        fitted = state(wh)
        assert set(fitted) == {"clv", "traffic"}

        again = fit_clv(wh, fast_clv(workers=1))
        curves_again, _ = fit_traffic(wh, fast_traffic())
        assert again.attrs[UNCHANGED] == fitted["clv"]
        assert curves_again.attrs[UNCHANGED] == fitted["traffic"]
        assert state(wh) == fitted
        assert len(again) == len(first)
        assert sorted(again["brand_id"]) == sorted(first["brand_id"])

        # A setting that shapes the fit: lifetime value is fitted again, traffic kept.
        changed = fit_clv(wh, fast_clv(min_buyers=first["buyers"].max() + 1))
        assert UNCHANGED not in changed.attrs
        assert UNCHANGED in fit_traffic(wh, fast_traffic())[0].attrs
        assert state(wh)["clv"] > fitted["clv"]

        # One order's amount changed: both models read the orders, both fit again.
        wh.duckdb.execute(
            "UPDATE orders SET amount = amount + 1 WHERE order_id = (SELECT min(order_id) FROM orders)"
        )
        assert UNCHANGED not in fit_clv(wh, fast_clv()).attrs
        assert UNCHANGED not in fit_traffic(wh, fast_traffic())[0].attrs
        # and the forced fit ignores the key
        assert UNCHANGED not in fit_clv(wh, fast_clv(), force=True).attrs
