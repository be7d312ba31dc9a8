"""The plan's allocations in the store, on SQLite and PostgreSQL: a proposal round-trips its
JSON, listing leaves the lines unread, a decision is audited with the change, and only the
first of two decisions stands (the optimistic lock)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.store import allocations

LINES = [
    {
        "provider_id": "P1",
        "period": "2027-01-01",
        "funds": 120000.5,
        "traffic": 3.0e8,
        "expected_uplift": 987654.32,
        "reason_code": "allocation.marginal",
        "reason_params": {"uplift": 0.031, "uplift_measured": None, "funds_binding": "marginal"},
    }
]


def _propose(session: Session) -> int:
    row = allocations.save_allocation(
        session,
        created_by="alice",
        budget={"periods": ["2027-01-01"], "funds": [2e5], "traffic": [5e8]},
        lines=LINES,
        forecast={"interval": 0.8, "tiers": []},
        solver={"status": "optimal", "gap": None, "totals": {"funds": 120000.5}},
        summary={"funds": 120000.5},
    )
    return row.id


def test_a_proposal_round_trips_and_lists_without_its_lines(
    session: Session, engine: Engine
) -> None:
    first = _propose(session)
    session.expunge_all()
    row = allocations.get_allocation(session, allocation_id=first)
    assert (row.status, row.created_by, row.lines, row.version) == ("proposed", "alice", LINES, 1)
    assert row.solver["gap"] is None and row.budget["traffic"] == [5e8]
    session.expunge_all()
    listed = allocations.list_allocations(session, status="proposed")
    assert [r.id for r in listed] == [first]
    assert "lines" in inspect(listed[0]).unloaded
    assert [a.action for a in store.list_audit(session, subject_type="plan_allocation")] == [
        "allocation.proposed"
    ]


def test_a_decision_is_audited_and_the_second_is_refused(session: Session, engine: Engine) -> None:
    first = _propose(session)
    with store.open_session(engine) as other:
        stale = allocations.get_allocation(other, allocation_id=first)  # read before the decision
        taken = allocations.decide_allocation(
            session,
            allocation_id=first,
            outcome="confirmed",
            reviewer="bob",
            note="go",
            detail={"funds": 120000.5},
        )
        assert (taken.status, taken.decided_by, taken.version) == ("confirmed", "bob", 2)
        assert stale.status == "proposed"
        with pytest.raises(store.AlreadyDecidedError):
            allocations.decide_allocation(
                other,
                allocation_id=first,
                outcome="rejected",
                reviewer="carol",
                note="",
                detail={},
            )
    with pytest.raises(store.AlreadyDecidedError):
        allocations.decide_allocation(
            session, allocation_id=first, outcome="rejected", reviewer="bob", note="", detail={}
        )
    with pytest.raises(store.InvalidValueError):
        allocations.decide_allocation(
            session, allocation_id=first, outcome="maybe", reviewer="bob", note="", detail={}
        )
    audit = store.list_audit(session, subject_type="plan_allocation", subject_id=str(first))
    assert [(a.action, a.actor) for a in audit] == [
        ("allocation.proposed", "alice"),
        ("allocation.confirmed", "bob"),
    ]
    assert audit[-1].detail == {"allocation_id": first, "outcome": "confirmed", "funds": 120000.5}
    assert allocations.get_allocation(session, allocation_id=first).status == "confirmed"
