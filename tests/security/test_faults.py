"""Fault injection: a process killed with SIGKILL during an upload's ingest, during each step of
the main job, or inside a provider decision leaves nothing half-visible.

Each test runs the use case in a child process with ``WINDMAKER_FAULT_AT`` naming the point
where it kills itself (:mod:`windmaker.warehouse.faults`), then checks the workspace the child
left: the result tables are those of the last complete run (their row counts, the net GMV total
and the refresh bookkeeping unchanged), and the next run completes and agrees with the orders,
computed independently in pandas, and with a full recompute. The market is the simulator's,
small (12 brands × 3 months), with its last days of orders held back as the new upload.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from tests.metrics import factory
from windmaker import results
from windmaker.config import Settings
from windmaker.ingest import ingest_files
from windmaker.metrics.refresh import TABLES as METRIC_TABLES
from windmaker.services.refresh import refresh
from windmaker.services.run import run_pipeline
from windmaker.store import engine_for, open_session, upsert_provider
from windmaker.store.applications import decide_application, submit_application
from windmaker.store.audit import list_audit
from windmaker.store.models import Application, Decision, Provider
from windmaker.workspace import open_warehouse


def _killed_at(point: str, code: str, settings: Settings, *args: str) -> None:
    """Run ``code`` (given the workspace folder as ``sys.argv[1]``, then ``args``) in a child
    process that kills itself at ``point``; fails unless it died by SIGKILL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDMAKER_")}
    env["WINDMAKER_FAULT_AT"] = point
    proc = subprocess.run(
        [sys.executable, "-c", code, str(settings.workspace), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def _state(settings: Settings) -> dict[str, object]:
    """Row count of every result table, the months' net GMV total and the refresh state."""
    with open_warehouse(settings) as wh:
        out: dict[str, object] = {
            name: int(wh.execute(wh.table(name).count()))
            for name in wh.tables()
            if name.startswith(("m_", "g_", "mdl_", "_m_"))
        }
        m = wh.table(results.BRAND_MONTH)
        out["net_gmv"] = Decimal(str(wh.execute(m.net_gmv.sum())))
        state = wh.to_arrow(wh.table(results.REFRESH_STATE)).to_pandas()
        out["refresh_state"] = state.sort_values("source").to_dict("records")
    return out


def _valid_gmv(settings: Settings) -> Decimal:
    """Net GMV of the orders, counted in pandas: amount − refund over orders not cancelled and
    not flagged as brushing (the workspace leaves high-confidence brushing out of GMV)."""
    with open_warehouse(settings) as wh:
        orders = wh.to_arrow(wh.table("orders")).to_pandas()
        flagged = set(wh.to_arrow(wh.table(results.BRUSHING_ORDERS)).to_pandas()["order_id"])
    kept = orders[(orders["status"] != "cancelled") & ~orders["order_id"].isin(flagged)]
    refund = kept["refund_amount"].map(lambda x: Decimal(0) if x is None or pd.isna(x) else x)
    return Decimal(sum(kept["amount"], Decimal(0)) - sum(refund, Decimal(0)))


def _metric_tables(settings: Settings) -> dict[str, pd.DataFrame]:
    with open_warehouse(settings) as wh:
        return factory.snapshot(wh)


def _orders(settings: Settings) -> int:
    with open_warehouse(settings) as wh:
        return int(wh.execute(wh.table("orders").count()))


_INGEST = """
import sys
from pathlib import Path
from windmaker.config import load_settings
from windmaker.ingest import ingest_files
ingest_files(load_settings(Path(sys.argv[1])), [Path(sys.argv[2])], progress=False)
"""

_RUN = """
import sys
from pathlib import Path
from windmaker.config import load_settings
from windmaker.services.run import run_pipeline
run_pipeline(load_settings(Path(sys.argv[1])))
"""


def test_kill_during_ingest_leaves_no_rows_and_the_upload_can_be_repeated(
    ws: Settings, template: tuple[Path, Path]
) -> None:
    """Killed with every row of the upload written but not committed: the orders and the
    ingest log are as before (no row of the upload, so it is not taken for a re-import), the
    metrics still equal the old orders' GMV, and the same file then ingests in full."""
    new = template[1]
    before_orders, before = _orders(ws), _state(ws)
    _killed_at("commit", _INGEST, ws, str(new))
    assert _orders(ws) == before_orders
    assert _state(ws) == before
    assert before["net_gmv"] == _valid_gmv(ws)
    report = ingest_files(ws, [new], progress=False)
    assert report.rejected == 0
    assert _orders(ws) == before_orders + len(pd.read_parquet(new))


@pytest.mark.parametrize(
    "point",
    [
        "run.brushing",
        "refresh.facts",
        "refresh.month",
        "run.metrics",
        "run.trust",
        "run.diagnosis",
        "commit",
    ],
)
def test_kill_during_the_main_job_leaves_the_last_complete_run(
    ws: Settings, template: tuple[Path, Path], point: str
) -> None:
    """Killed at a step of the main job, after its writes (the metrics refresh killed between
    its stages): every result table, the months' net GMV and the incremental refresh's
    bookkeeping are exactly those of the last complete run, whose GMV is the old orders'. The
    next run completes, its months' net GMV equals the orders' valid GMV counted in pandas, and
    its metric tables equal a full recompute."""
    before = _state(ws)
    old_gmv = before["net_gmv"]
    ingest_files(ws, [template[1]], progress=False)
    _killed_at(point, _RUN, ws)
    assert _state(ws) == before

    # the new orders change the brushing flags: the refresh recomputes from the first day they
    # touch, and still equals a full recompute
    assert run_pipeline(ws).metrics == "incremental"
    _agrees_with_orders_and_a_full_recompute(ws, old_gmv)  # type: ignore[arg-type]


_REFRESH = """
import sys
from pathlib import Path
from windmaker.config import load_settings
from windmaker.services.refresh import refresh
from windmaker.workspace import open_warehouse
with open_warehouse(load_settings(Path(sys.argv[1]))) as wh:
    refresh(wh, exclude_brushing=True)
"""


@pytest.mark.parametrize("point", ["refresh.facts", "refresh.week", "refresh.cohorts", "commit"])
def test_kill_during_an_incremental_refresh_resumes_incrementally(
    ws: Settings, template: tuple[Path, Path], point: str
) -> None:
    """``windmaker refresh`` killed between its stages (the day bases and the day, week and
    month tables partly replaced inside its transaction): the tables and ``_m_refresh_state``
    are the last complete refresh's, and the next refresh plans the same incremental range
    again, ending equal to a full recompute and to the orders' valid GMV."""
    before = _state(ws)
    ingest_files(ws, [template[1]], progress=False)
    _killed_at(point, _REFRESH, ws)
    assert _state(ws) == before
    with open_warehouse(ws) as wh:
        assert refresh(wh, exclude_brushing=True).mode == "incremental"
    _agrees_with_orders_and_a_full_recompute(ws, before["net_gmv"])  # type: ignore[arg-type]


def _agrees_with_orders_and_a_full_recompute(settings: Settings, old_gmv: Decimal) -> None:
    """The months' net GMV equals the orders' valid GMV (and grew), and every metric table
    equals a full recompute of the same warehouse."""
    after = _state(settings)
    assert after["net_gmv"] == _valid_gmv(settings)
    assert after["net_gmv"] > old_gmv  # type: ignore[operator]
    got = _metric_tables(settings)
    with open_warehouse(settings) as wh:
        assert refresh(wh, full=True, exclude_brushing=True).mode == "full"
    want = _metric_tables(settings)
    for t in METRIC_TABLES:
        assert len(got[t]) > 0, t
        pd.testing.assert_frame_equal(got[t], want[t], check_exact=False, rtol=1e-12, obj=t)


_DECIDE = """
import sys
from pathlib import Path
from windmaker.config import load_settings
from windmaker.store import engine_for, open_session
from windmaker.store.applications import decide_application
with open_session(engine_for(load_settings(Path(sys.argv[1])))) as session:
    decide_application(session, application_id=1, decision="admitted", reviewer="admin", note="ok")
"""


def _decision_state(settings: Settings) -> tuple[str, str, str, int]:
    with open_session(engine_for(settings)) as session:
        provider = session.get(Provider, "P1")
        decision = session.query(Decision).filter(Decision.application_id == 1).one()
        application = session.get(Application, 1)
        assert provider is not None and application is not None
        decided = [
            a
            for a in list_audit(session)
            if a.action.startswith("decision.")
            and a.action.endswith(".admission")
            and not a.action.startswith("decision.proposed")
        ]
        return provider.status, decision.status, application.status, len(decided)


def test_kill_during_a_provider_decision_leaves_no_half_decision(ws: Settings) -> None:
    """Killed inside the store transaction of an admission decision, with the decision, the
    provider's new status and the audit line sent to the database: none of them is kept (the
    provider is still pending, the proposal open, no decision in the audit log), and the
    decision then taken again is kept whole."""
    engine = engine_for(ws)
    with open_session(engine) as session:
        upsert_provider(
            session,
            provider_id="P1",
            name="Agency One",
            kind="brand_operation",
            capabilities=["self_operation"],
            categories=["beauty"],
            capacity=5,
            actor="admin",
        )
        submit_application(
            session,
            provider_id="P1",
            qualifications={"team_size": 10},
            proposed_outcome="admitted",
            reasons=[],
            actor="p1",
        )
    before = _decision_state(ws)
    assert before[1:] == ("proposed", "pending", 0)
    _killed_at("decision", _DECIDE, ws)
    assert _decision_state(ws) == before
    with open_session(engine) as session:
        decide_application(
            session, application_id=1, decision="admitted", reviewer="admin", note=""
        )
    assert _decision_state(ws) == ("admitted", "confirmed", "decided", 1)
