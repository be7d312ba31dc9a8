"""The ``windmaker providers`` and ``windmaker store`` commands end to end on a workspace."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

from tests.ecosystem.conftest import month, planted_market
from windmaker import store
from windmaker.cli.main import app
from windmaker.config import Settings
from windmaker.workspace import open_warehouse

runner = CliRunner()

#: Third-party deprecations raised inside ibis' DuckDB backend (not windmaker code).
THIRD_PARTY = [
    pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string':DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


pytestmark = THIRD_PARTY


def _run(ws: Settings, *args: str) -> str:
    result = runner.invoke(app, [*args, "--workspace", str(ws.workspace)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_apply_queue_decide(workspace: Settings, tmp_path: Path) -> None:
    apps = [
        {
            "provider_id": "NEW1",
            "name": "启航运营",
            "kind": "brand_operation",
            "capabilities": "self_operation,traffic",
            "categories": "beauty",
            "team_size": 30,
            "gmv_served_12m": 90000000,
            "capacity": 8,
            "cases": ["a", "b", "c"],
            "founded_at": "2019-03-01",
        },
        {
            "provider_id": "NEW2",
            "name": "小作坊",
            "kind": "traffic_agency",
            "capabilities": "traffic",
            "categories": "food",
            "team_size": 2,
            "gmv_served_12m": 10000,
            "capacity": 1,
        },
    ]
    f = tmp_path / "apps.yaml"
    f.write_text(yaml.safe_dump(apps, allow_unicode=True), encoding="utf-8")
    out = _run(workspace, "store", "upgrade")
    # the console wraps a long workspace path: compare the words, not the line breaks
    assert f"→ {store.head_revision()}" in " ".join(out.split())
    out = _run(workspace, "providers", "apply", str(f))
    assert "admitted" in out and "rejected" in out
    out = _run(workspace, "providers", "queue")
    assert "NEW1" in out and "NEW2" in out
    out = _run(
        workspace,
        "providers",
        "decide",
        "1",
        "--decision",
        "admitted",
        "--reviewer",
        "alice",
        "--note",
        "ok",
    )
    assert "admitted" in out
    again = runner.invoke(
        app,
        [
            "providers",
            "decide",
            "1",
            "--decision",
            "rejected",
            "--reviewer",
            "bob",
            "--workspace",
            str(workspace.workspace),
        ],
    )
    assert again.exit_code == 3
    assert "already decided" in again.output
    with store.open_session(store.engine_for(workspace)) as s:
        assert store.get_provider(s, provider_id="NEW1").status == "admitted"
        assert any(e.actor == "alice" for e in store.list_audit(s))


@pytest.mark.slow
def test_load_evaluate_tiers_match(workspace: Settings, tmp_path: Path) -> None:
    bm, asg = planted_market(provider_effects={"PA": 0.05, "PB": -0.06, "PC": 0.0})
    eco = tmp_path / "ecosystem"
    eco.mkdir()
    pd.DataFrame(
        {
            "provider_id": ["PA", "PB", "PC"],
            "name": ["A", "B", "C"],
            "kind": ["brand_operation", "traffic_agency", "full_service"],
            "capabilities": [
                "self_operation,traffic",
                "traffic",
                "self_operation,traffic,distribution",
            ],
            "categories": ["beauty", "beauty", "beauty,food"],
            "capacity": [10, 10, 10],
            "team_size": [30, 10, 60],
            "gmv_served_12m": ["150000000.00", "1000.00", "0.00"],
            "founded_at": pd.to_datetime(["2018-01-01", "2019-01-01", "2015-01-01"]).date,
        }
    ).to_parquet(eco / "providers.parquet")
    asg.to_parquet(eco / "assignments.parquet")
    _run(workspace, "providers", "load", str(tmp_path))
    out = _run(workspace, "providers", "load", str(eco))  # idempotent
    assert "0 new assignments" in out
    with open_warehouse(workspace) as wh:
        wh.write("m_brand_month", pa.Table.from_pandas(bm, preserve_index=False))
        needs = bm[bm["period"] == month(11)][["brand_id", "category", "period"]].copy()
        needs["capability"] = "traffic"
        needs["rank"] = 1
        wh.write("g_bottleneck", pa.Table.from_pandas(needs, preserve_index=False))
        # PA's clients improve on traffic (which PA declares); nobody else moves.
        caps = bm[["brand_id", "period"]].assign(capability="traffic")
        step = caps["period"].map({month(i): i for i in range(12)})
        caps["index"] = caps["brand_id"].str.startswith("PA").astype(float) * 0.02 * step
        wh.write("m_capability", pa.Table.from_pandas(caps, preserve_index=False))
    for m in ("2026-08", "2026-09", "2026-10"):
        _run(workspace, "providers", "evaluate", "--period", m)
    with store.open_session(store.engine_for(workspace)) as s:
        evals = {e.provider_id: e for e in store.list_evaluations(s, period=month(11))}
        assert evals["PA"].score > evals["PC"].score > evals["PB"].score
        assert evals["PA"].metrics["capability_uplift"] == pytest.approx(0.02)
        assert not evals["PB"].meets_standard
        proposed = store.list_decisions(s, status="proposed", provider_id="PB")
        assert [d.kind for d in proposed] == ["warning"]
        warn_id = proposed[0].id
    _run(workspace, "providers", "confirm", str(warn_id), "--reviewer", "carol", "--note", "talked")
    out = _run(workspace, "providers", "tiers")
    assert "造风者" in out and "200" in out
    csv = tmp_path / "matches.csv"
    out = _run(workspace, "providers", "match", "--out", str(csv))
    matches = pd.read_csv(csv)
    served = set(asg["brand_id"])
    assert not set(matches["brand_id"]) & served
    # PB is warned now, so only PA and PC take new brands: 10 capacity − 4 clients each.
    assert set(matches["provider_id"]) == {"PA", "PC"}
    assert len(matches) == 12


def test_a_clients_severe_trust_alert_proposes_the_providers_exit(
    workspace: Settings, tmp_path: Path
) -> None:
    """Issue 8's gate: `trust run` writes mdl_trust_alerts; `providers evaluate` reads them when no
    violations file is given, and a severe one (fraud) proposes the serving provider's exit."""
    bm, asg = planted_market(provider_effects={"PA": 0.05, "PB": 0.05, "PC": 0.05})
    eco = tmp_path / "ecosystem"
    eco.mkdir()
    pd.DataFrame(
        {
            "provider_id": ["PA", "PB", "PC"],
            "name": ["A", "B", "C"],
            "kind": ["brand_operation"] * 3,
            "capabilities": ["self_operation,traffic"] * 3,
            "categories": ["beauty"] * 3,
            "capacity": [10, 10, 10],
            "team_size": [30, 30, 30],
            "gmv_served_12m": ["1000.00"] * 3,
            "founded_at": pd.to_datetime(["2018-01-01"] * 3).date,
        }
    ).to_parquet(eco / "providers.parquet")
    asg.to_parquet(eco / "assignments.parquet")
    _run(workspace, "providers", "load", str(eco))
    pb_client = str(asg[asg["provider_id"] == "PB"]["brand_id"].iloc[0])
    alerts = pd.DataFrame(
        {
            "brand_id": [pb_client],
            "account_id": ["A1"],
            "period": [month(11)],
            "kind": ["brushing"],
            "severe": [True],
            "score": [12.0],
            "threshold": [40.0],
            "reason_code": ["trust.brushing"],
            "reason_params": ['{"share": 0.5}'],
        }
    )
    with open_warehouse(workspace) as wh:
        wh.write("m_brand_month", pa.Table.from_pandas(bm, preserve_index=False))
        wh.write("mdl_trust_alerts", pa.Table.from_pandas(alerts, preserve_index=False))
    _run(workspace, "providers", "evaluate", "--period", "2026-10")
    with store.open_session(store.engine_for(workspace)) as s:
        evals = {e.provider_id: e for e in store.list_evaluations(s, period=month(11))}
        assert evals["PB"].severe_violation and not evals["PA"].severe_violation
        assert [d.kind for d in store.list_decisions(s, status="proposed", provider_id="PB")] == [
            "exit"
        ]
        assert store.list_decisions(s, status="proposed", provider_id="PA") == []
