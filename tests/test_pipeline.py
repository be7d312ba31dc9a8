"""The main job end to end on a simulated market: every result table the interfaces read exists
and agrees with the others."""

from __future__ import annotations

import pandas as pd
import pytest

from windmaker import contract
from windmaker.config import Settings
from windmaker.workspace import open_warehouse

RESULT_TABLES = (
    "m_brand_month",
    "m_capability",
    "m_gmv_drivers",
    "g_stage",
    "g_bottleneck",
    "g_plan",
    "g_portfolio",
    "mdl_brushing_orders",
    "mdl_trust_scores",
    "mdl_trust_alerts",
)


@pytest.fixture(scope="module")
def frames(diagnosed_market: Settings) -> dict[str, object]:
    with open_warehouse(diagnosed_market) as wh:
        return {name: wh.execute(wh.table(name)) for name in RESULT_TABLES if wh.has_table(name)}


def test_every_result_table_is_written(frames: dict[str, object]) -> None:
    assert set(frames) == set(RESULT_TABLES)


def test_every_joined_brand_has_one_stage_per_month(frames: dict) -> None:  # type: ignore[type-arg]
    """Every brand-month the metrics benchmark (brands that had joined) gets exactly one stage."""
    stage, month = frames["g_stage"], frames["m_capability"]
    assert not stage.duplicated(["brand_id", "period"]).any()

    def keys(df):  # type: ignore[no-untyped-def]
        return set(zip(df["brand_id"], pd.to_datetime(df["period"]), strict=True))

    assert keys(stage) == keys(month)
    assert set(stage["stage"]) <= set(contract.STAGES)


def test_bottleneck_ranks_all_five_capabilities(frames: dict) -> None:  # type: ignore[type-arg]
    b = frames["g_bottleneck"]
    per = b.groupby(["brand_id", "period"])["capability"].agg(lambda s: tuple(sorted(s)))
    assert (per == tuple(sorted(contract.CAPABILITIES))).all()


def test_plans_have_three_to_five_actions(frames: dict) -> None:  # type: ignore[type-arg]
    sizes = frames["g_plan"].groupby(["brand_id", "period"]).size()
    assert sizes.between(3, 5).all()


def test_second_run_is_up_to_date(diagnosed_market: Settings) -> None:
    """Nothing new since the last run: the metrics are not recomputed. (The market is shared with
    tests that upload into it, so one run first takes in whatever they added.)"""
    from windmaker.pipeline import run_pipeline

    run_pipeline(diagnosed_market)
    out = run_pipeline(diagnosed_market)
    assert out["metrics"] == "up_to_date"
    assert set(out["seconds"]) == {"brushing", "metrics", "trust", "diagnosis"}
