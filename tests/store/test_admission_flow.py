"""Applications, the review queue and decisions; two reviewers racing on one application."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.store.conftest import make_provider
from windmaker import store

REASONS = [{"criterion": "team_size", "outcome": "admitted", "message": "team 30 >= 20"}]


def _apply(session: Session, provider_id: str = "P1", outcome: str = "admitted") -> int:
    make_provider(session, provider_id)
    app = store.submit_application(
        session,
        provider_id=provider_id,
        qualifications={"team_size": 30},
        proposed_outcome=outcome,
        reasons=REASONS,
        actor="P1-staff",
    )
    return app.id


def test_application_goes_through_queue_to_decision(session: Session) -> None:
    app_id = _apply(session)
    queue = store.review_queue(session)
    assert [(a.id, d.proposed_outcome) for a, d in queue] == [(app_id, "admitted")]
    assert store.get_provider(session, provider_id="P1").status == "applicant"

    decision = store.decide_application(
        session, application_id=app_id, decision="probation", reviewer="alice", note="new team"
    )
    assert (decision.status, decision.outcome, decision.reviewer) == (
        "overridden",
        "probation",
        "alice",
    )
    assert store.get_provider(session, provider_id="P1").status == "probation"
    assert store.review_queue(session) == []
    actions = [e.action for e in store.list_audit(session, subject_id="P1")]
    assert "decision.proposed.admission" in actions
    assert "decision.overridden.admission" in actions
    last = store.list_audit(session)[-1]
    assert (last.actor, last.reason) == ("alice", "new team")


def test_deciding_twice_is_refused_with_who_decided(session: Session) -> None:
    app_id = _apply(session)
    store.decide_application(
        session, application_id=app_id, decision="admitted", reviewer="alice", note="ok"
    )
    with pytest.raises(store.AlreadyDecidedError, match="admitted by alice"):
        store.decide_application(
            session, application_id=app_id, decision="rejected", reviewer="bob", note="no"
        )
    assert store.get_provider(session, provider_id="P1").status == "admitted"


def test_unknown_outcome_is_refused(session: Session) -> None:
    app_id = _apply(session)
    with pytest.raises(store.InvalidValueError, match="admission"):
        store.decide_application(
            session, application_id=app_id, decision="maybe", reviewer="a", note=""
        )


def test_two_reviewers_two_connections_one_decision(engine: Engine) -> None:
    """Both load the pending application, then both decide: one commit wins, one clear error."""
    with store.open_session(engine) as setup:
        app_id = _apply(setup)
    with store.open_session(engine) as alice, store.open_session(engine) as bob:
        # Each reviewer holds the application as it looked when the page was opened.
        held = [
            store.get_application(alice, application_id=app_id),
            store.admission_proposal(alice, application_id=app_id),
            store.get_application(bob, application_id=app_id),
            store.admission_proposal(bob, application_id=app_id),
        ]
        assert {getattr(h, "status", None) for h in held} == {"pending", "proposed"}
        store.decide_application(
            alice, application_id=app_id, decision="admitted", reviewer="alice", note="fine"
        )
        with pytest.raises(store.AlreadyDecidedError, match="decided by someone else first"):
            store.decide_application(
                bob, application_id=app_id, decision="rejected", reviewer="bob", note="no"
            )
    with store.open_session(engine) as check:
        decided = [
            d for d in store.list_decisions(check, provider_id="P1") if d.status != "proposed"
        ]
        assert [(d.outcome, d.reviewer) for d in decided] == [("admitted", "alice")]
        assert store.get_provider(check, provider_id="P1").status == "admitted"
        confirmations = [
            e for e in store.list_audit(check) if e.action.startswith("decision.confirmed")
        ]
        assert [e.actor for e in confirmations] == ["alice"]


def test_two_reviewers_in_parallel_threads(engine: Engine) -> None:
    with store.open_session(engine) as setup:
        app_id = _apply(setup)
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def review(name: str, outcome: str) -> None:
        with store.open_session(engine) as s:
            held = (
                store.admission_proposal(s, application_id=app_id),
                store.get_application(s, application_id=app_id),
            )
            barrier.wait()
            try:
                store.decide_application(
                    s, application_id=app_id, decision=outcome, reviewer=name, note=""
                )
                results[name] = "ok"
            except store.AlreadyDecidedError as exc:
                results[name] = f"refused: {exc}"
            assert held[1].id == app_id

    threads = [
        threading.Thread(target=review, args=("alice", "admitted")),
        threading.Thread(target=review, args=("bob", "rejected")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v.split(":")[0] for v in results.values()) == ["ok", "refused"]
    winner = next(k for k, v in results.items() if v == "ok")
    with store.open_session(engine) as check:
        expected = {"alice": "admitted", "bob": "rejected"}[winner]
        assert store.get_provider(check, provider_id="P1").status == expected


def test_exit_proposal_confirmed_by_a_person(session: Session) -> None:
    make_provider(session, "P2", status="admitted")
    d = store.propose_decision(
        session,
        provider_id="P2",
        kind="exit",
        proposed_outcome="exited",
        reasons=[{"criterion": "fraud", "message": "client B7 fraud"}],
        period=date(2026, 9, 1),
    )
    again = store.propose_decision(
        session,
        provider_id="P2",
        kind="exit",
        proposed_outcome="exited",
        reasons=[],
        period=date(2026, 9, 1),
    )
    assert again.id == d.id
    assert store.get_provider(session, provider_id="P2").status == "admitted"
    store.confirm_decision(session, decision_id=d.id, reviewer="carol", note="verified fraud")
    assert store.get_provider(session, provider_id="P2").status == "exited"
    lines = [(e.action, e.actor, e.reason) for e in store.list_audit(session, subject_id="P2")]
    assert ("decision.proposed.exit", "system", "client B7 fraud") in lines
    assert ("decision.confirmed.exit", "carol", "verified fraud") in lines
    with pytest.raises(store.AlreadyDecidedError):
        store.confirm_decision(session, decision_id=d.id, reviewer="dave", note="")
