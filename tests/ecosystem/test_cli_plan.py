"""The ``windmaker plan`` commands end to end on a workspace whose store holds the planted market
of ``simulator/plan_response.py``: propose, list, decide (audited), refuse a second decision.

Known answer: the numbers the commands print are the proposal's as the use case stored it
(the same record the page and the API show), formatted by ``windmaker.numbers``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.services.test_allocation import planted_store
from windmaker import store
from windmaker.cli.main import app
from windmaker.config import Settings
from windmaker.numbers import money
from windmaker.services import allocation as service
from windmaker.services.identity import workspace_admin
from windmaker.simulator.plan_response import plan_market

runner = CliRunner()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return planted_store(tmp_path_factory.mktemp("plan-cli") / "ws", plan_market(12, seed=2))


def _run(ws: Settings, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--workspace", str(ws.workspace)], env={"COLUMNS": "240"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == code, result.output
    return result.output


def _latest(ws: Settings) -> service.AllocationRecord:
    with store.open_session(store.engine_for(ws)) as s:
        found = service.latest_allocation(s, workspace_admin("test"))
    assert found is not None
    return found


def test_allocate_list_and_decide(ws: Settings) -> None:
    out = _run(
        ws, "plan", "allocate", "--funds", "40万", "--traffic", "2亿", "--periods", "3",
        "--actor", "alice", "--lang", "en",
    )  # fmt: skip
    record = _latest(ws)
    assert record.funds_per_period == (400_000.0,) * 3 and record.created_by == "alice"
    assert f"Proposal #{record.id}" in out and "Awaiting a decision" in out
    assert f"Funds allocated: {money(record.funds, 'en')}" in out
    top = record.by_provider()[0]
    assert top.name in out and money(top.funds, "en") in out
    assert "Year-end tier forecast" in out and "Windmaker 100-million tier" in out
    assert not re.search(r"\ballocation\.|\b[a-z]+_[a-z]+_?[a-z_]*\b|None|nan", out), out

    listed = _run(ws, "plan", "list", "--lang", "zh-CN")
    assert "待确认" in listed and money(record.funds, "zh-CN") in listed

    decided = _run(
        ws, "plan", "decide", str(record.id), "confirm", "--note", "照此执行",
        "--reviewer", "boss", "--lang", "zh-CN",
    )  # fmt: skip
    assert "已确认" in decided and "boss" in decided
    with store.open_session(store.engine_for(ws)) as s:
        audit = store.list_audit(s, subject_type="plan_allocation", subject_id=str(record.id))
    assert [(a.action, a.actor, a.reason) for a in audit][-1] == (
        "allocation.confirmed",
        "boss",
        "照此执行",
    )
    again = _run(ws, "plan", "decide", str(record.id), "reject", code=3)
    assert "already decided" in again


def test_allocate_and_confirm_at_once(ws: Settings) -> None:
    out = _run(
        ws, "plan", "allocate", "--funds", "1000000", "--traffic", "0.5亿", "--periods", "2",
        "--start", "2027-03", "--confirm", "--note", "board approved", "--lang", "en",
    )  # fmt: skip
    record = _latest(ws)
    assert record.status == "confirmed" and record.note == "board approved"
    assert [p.isoformat() for p in record.periods] == ["2027-03-01", "2027-04-01"]
    assert "Confirmed by cli" in out
    shown = _run(ws, "plan", "show", str(record.id), "--lang", "en")
    assert f"Proposal #{record.id}" in shown and "Confirmed" in shown


def test_bad_input_is_refused_before_anything_is_stored(ws: Settings, tmp_path: Path) -> None:
    before = len(_run(ws, "plan", "list", "--lang", "en").splitlines())
    out = _run(ws, "plan", "allocate", "--funds", "lots", "--traffic", "1亿", code=2)
    assert "--funds" in out
    out = _run(
        ws, "plan", "allocate", "--funds", "1万", "--traffic", "1亿", "--periods", "30", code=3
    )
    assert "periods" in out
    assert len(_run(ws, "plan", "list", "--lang", "en").splitlines()) == before
    _run(ws, "plan", "show", "9999", code=3)
