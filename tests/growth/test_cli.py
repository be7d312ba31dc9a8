"""``windmaker diagnose`` / ``portfolio`` on a warehouse holding hand-made metric tables."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.growth.factories import filler, market
from windmaker.cli.main import app
from windmaker.config import Settings
from windmaker.workspace import open_warehouse

INTERFACE = {
    "g_stage": [
        "brand_id",
        "category",
        "period",
        "stage",
        "candidate_stage",
        "reason_code",
        "reason_params",
    ],
    "g_bottleneck": ["brand_id", "category", "period", "capability", "gap", "rank", "reference"],
    "g_plan": [
        "brand_id",
        "period",
        "rank",
        "action_id",
        "capability",
        "metric",
        "current",
        "target",
        "evidence",
    ],
    "g_portfolio": [
        "brand_id",
        "category",
        "period",
        "stage",
        "attention",
        "gmv_at_stake",
        "priority",
    ],
}


@pytest.fixture
def diagnosed(workspace: Settings) -> Settings:
    specs = [(f"adv{i}", "beauty", [1, 1, 1, 2, 2, 2], "private_domain") for i in range(5)]
    c_options = {"plant_criteria": True}  # fails the KA size criterion only
    specs += [("C", "beauty", [1] * 6, "traffic", 0.9, c_options), *filler("beauty", 60, 6)]
    bm, cap = market(specs)
    with open_warehouse(workspace) as wh:
        wh.write("m_brand_month", bm)
        wh.write("m_capability", cap)
    result = CliRunner().invoke(app, ["diagnose", "--all", "-w", str(workspace.workspace)])
    assert result.exit_code == 0, result.output
    assert "g_bottleneck" in result.output
    return workspace


def test_diagnose_all_stores_interface_tables(diagnosed: Settings) -> None:
    with open_warehouse(diagnosed) as wh:
        for name, cols in INTERFACE.items():
            schema = wh.table(name).schema()
            assert list(schema.names[: len(cols)]) == cols
        assert str(wh.table("g_portfolio").schema()["gmv_at_stake"]) == "decimal(18, 2)"
        assert str(wh.table("g_stage").schema()["period"]) == "date"
        plan = wh.execute(wh.table("g_plan").filter(lambda t: t.brand_id == "C"))
    assert json.loads(plan["evidence"].iloc[0])["step"] == "climbing→ka"


def test_diagnose_brand_prints_in_both_languages(diagnosed: Settings) -> None:
    ws = str(diagnosed.workspace)
    en = CliRunner().invoke(
        app, ["diagnose", "C", "--lang", "en", "-w", ws], env={"COLUMNS": "200"}
    )
    assert en.exit_code == 0, en.output
    assert "Stage: Climbing" in en.output
    assert "Bottleneck ranking: Traffic — " in en.output  # followed by why, in its own unit
    assert "Public-traffic share" in en.output
    assert "Not yet KA" in en.output
    zh = CliRunner().invoke(
        app, ["diagnose", "C", "--period", "2026-04", "-w", ws], env={"COLUMNS": "200"}
    )
    assert zh.exit_code == 0, zh.output
    assert "阶段: 店铺爬坡" in zh.output and "尚未达到KA" in zh.output


def test_unknown_brand_and_missing_tables(workspace: Settings, diagnosed: Settings) -> None:
    out = CliRunner().invoke(app, ["diagnose", "nope", "-w", str(diagnosed.workspace)])
    assert out.exit_code == 1 and "no diagnosis" in out.output


def test_portfolio_ranks_attention(diagnosed: Settings) -> None:
    out = CliRunner().invoke(
        app,
        ["portfolio", "--category", "beauty", "--lang", "en", "-w", str(diagnosed.workspace)],
        env={"COLUMNS": "200"},
    )
    assert out.exit_code == 0, out.output
    assert "Stalled" in out.output and "Portfolio by attention" in out.output


def test_diagnose_without_metrics_says_refresh(workspace: Settings) -> None:
    out = CliRunner().invoke(app, ["diagnose", "--all", "-w", str(workspace.workspace)])
    assert out.exit_code == 2 and "windmaker refresh" in out.output


def test_diagnose_all_prints_agreement_with_truth(workspace: Settings, tmp_path) -> None:
    specs = [(f"b{i}", "food", [1] * 4, "traffic") for i in range(20)]
    bm, cap = market(specs)
    with open_warehouse(workspace) as wh:
        wh.write("m_brand_month", bm)
        wh.write("m_capability", cap)
    truth = bm[["brand_id", "category", "period"]].rename(columns={"period": "month"})
    truth["stage"] = "climbing"
    truth["bottleneck"] = "traffic"
    path = tmp_path / "brand_month.parquet"
    truth.to_parquet(path)
    out = CliRunner().invoke(
        app, ["diagnose", "--all", "--truth", str(path), "-w", str(workspace.workspace)]
    )
    assert out.exit_code == 0, out.output
    # 20 brands × 4 months, the first 3 of each left out: 20 judged, all climbing
    assert "judged: 20" in out.output and "stage agreement: **100.0%**" in out.output
