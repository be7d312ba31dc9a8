"""One brand's scorecard, stage, bottleneck and plan are the same on every surface: the CLI's
``diagnose BRAND --json``, the API's scorecard and diagnosis, the brand page and the report.

The market is simulated and taken through the main job with the models fitted, so the P and T
scores of the models' month are blended (``g_model_scores``). Known answer: the blended score
the diagnosis judged on. The brand is chosen where the blended score differs from the
metrics-only one of ``m_capability`` on screen, so a surface showing the unblended score fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.web.conftest import web_login
from windmaker.api.app import create_app
from windmaker.cli.main import app as cli_app
from windmaker.config import Settings
from windmaker.i18n import t
from windmaker.workspace import open_warehouse

PASSWORD = "same-numbers-pw"
LANG = "en"
# The cheapest fits the pipeline tests use: one pooled lifetime-value fit, BG/NBD only, one
# starting point per traffic curve (the figures compared here do not depend on fit quality).
FAST_MODELS = """\
version: 1
clv:
  min_buyers: 100000000
  pareto_nbd: false
traffic:
  alpha_starts: [0.4]
  history_days: 90
"""


@dataclass(frozen=True)
class Market:
    settings: Settings
    brand_id: str
    #: The capability whose blended score differs on screen from the metrics-only one.
    capability: str
    blended_score: float
    metric_score: float


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Market:
    """20 brands × 6 months through ``run_pipeline(models=True)``, with an admin user."""
    from windmaker.ingest import ingest_files
    from windmaker.services.run import run_pipeline
    from windmaker.simulator import small_market
    from windmaker.store import create_user, engine_for, open_session, upgrade
    from windmaker.workspace import init_workspace

    root = tmp_path_factory.mktemp("same")
    files = small_market(root / "files", seed=3, brands=20, months=6)
    config = root / "config"
    config.mkdir()
    (config / "models.yaml").write_text(FAST_MODELS, encoding="utf-8")
    settings = init_workspace(root / "ws").model_copy(update={"config_dir": config})
    assert ingest_files(settings, sorted(files.glob("*.parquet")), progress=False).rejected == 0
    run_pipeline(settings, models=True)
    engine = engine_for(settings)
    upgrade(engine)
    with open_session(engine) as s:
        create_user(s, username="admin", password=PASSWORD, role="admin", actor="test")
    engine.dispose()

    with open_warehouse(settings) as wh:
        scores = wh.execute(wh.table("g_model_scores"))
        stages = wh.execute(wh.table("g_stage"))
        plans = wh.execute(wh.table("g_plan"))
    latest = stages["period"].max()
    scores = scores.loc[pd.to_datetime(scores["period"]) == pd.Timestamp(latest)]
    planned = set(plans.loc[plans["period"] == latest, "brand_id"])
    # shown with no decimals: the blended and the metrics-only scores must differ after rounding
    moved = scores.loc[
        (scores["score"].round(0) != scores["metric_score"].round(0))
        & scores["brand_id"].isin(planned)
        & scores["model_z"].notna()
    ].sort_values(["capability", "brand_id"])
    assert not moved.empty, "no brand's score moved with the models"
    row = moved.iloc[0]
    return Market(
        settings,
        str(row["brand_id"]),
        str(row["capability"]),
        float(row["score"]),
        float(row["metric_score"]),
    )


@pytest.fixture(scope="module")
def client(market: Market) -> Iterator[TestClient]:
    with TestClient(create_app(market.settings)) as c:
        r = c.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        r = web_login(c, "admin", PASSWORD)
        assert r.status_code == 303, r.text
        c.cookies.set("wm_lang", LANG)
        yield c


@pytest.fixture(scope="module")
def cli(market: Market) -> dict[str, Any]:
    out = CliRunner().invoke(
        cli_app,
        ["diagnose", market.brand_id, "--json", "-w", str(market.settings.workspace)],
    )
    assert out.exit_code == 0, out.output
    parsed: dict[str, Any] = json.loads(out.output)
    return parsed


def _shown(html: str) -> dict[str, Any]:
    """Stage name, scores, bottleneck ranking and plan actions as a page shows them."""
    soup = BeautifulSoup(html, "html.parser")
    current = soup.select_one(".ladder .step.current")
    assert current is not None
    return {
        "stage": current.get_text(strip=True).split("·", 1)[1].strip(),
        "scores": {
            str(tr["data-capability"]): tr.select("td")[-1].get_text(strip=True)
            for tr in soup.select("#scores tr[data-capability]")
        },
        "bottlenecks": [str(li["data-capability"]) for li in soup.select("#bottlenecks li")],
        "plan": [str(tr["data-action"]) for tr in soup.select("#plan tr[data-action]")],
    }


def _expected(cli: dict[str, Any]) -> dict[str, Any]:
    """What a page must show, from the CLI's records."""
    card, diag = cli["scorecard"], cli["diagnosis"]
    return {
        "stage": t(f"stage.{diag['stage']['stage']}", LANG),
        "scores": {c["capability"]: f"{c['score']:,.0f}" for c in card["capabilities"]},
        "bottlenecks": [b["capability"] for b in diag["bottlenecks"]],
        "plan": [a["action_id"] for a in diag["plan"]],
    }


def test_cli_shows_the_blended_score(market: Market, cli: dict[str, Any]) -> None:
    """The score is g_model_scores' blended one, not m_capability's (which differs)."""
    caps = {c["capability"]: c for c in cli["scorecard"]["capabilities"]}
    shown = caps[market.capability]
    assert shown["score"] == pytest.approx(market.blended_score)
    assert shown["metric_score"] == pytest.approx(market.metric_score)
    assert round(shown["score"]) != round(market.metric_score)
    assert shown["blended"] is True
    assert cli["diagnosis"]["stage"]["stage"] and cli["diagnosis"]["plan"]


def test_api_answers_the_cli_records(
    market: Market, client: TestClient, cli: dict[str, Any]
) -> None:
    card = client.get(f"/api/v1/brands/{market.brand_id}")
    diag = client.get(f"/api/v1/brands/{market.brand_id}/diagnosis")
    assert card.status_code == 200 and diag.status_code == 200
    assert card.json() == cli["scorecard"]
    assert diag.json() == cli["diagnosis"]


def test_brand_page_shows_the_same(market: Market, client: TestClient, cli: dict[str, Any]) -> None:
    page = client.get(f"/brands/{market.brand_id}")
    assert page.status_code == 200
    shown = _shown(page.text)
    assert shown == _expected(cli)
    assert shown["scores"][market.capability] == f"{market.blended_score:,.0f}"


def test_report_shows_the_same(market: Market, client: TestClient, cli: dict[str, Any]) -> None:
    report = client.get(f"/reports/brands/{market.brand_id}")
    assert report.status_code == 200
    shown = _shown(report.text)
    assert shown == _expected(cli)
    assert shown["scores"][market.capability] == f"{market.blended_score:,.0f}"


def test_radar_uses_the_final_scores(market: Market, client: TestClient) -> None:
    """The radar's brand series and the category median read the blended scores too."""
    radar = client.get(f"/api/v1/brands/{market.brand_id}/radar").json()
    at = radar["capabilities"].index(market.capability)
    assert radar["brand"][at] == pytest.approx(market.blended_score)
