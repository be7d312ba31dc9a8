"""The audit log is append-only: no public function, ORM path or raw SQL can change a line."""

from __future__ import annotations

import inspect as pyinspect
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.store.conftest import make_provider
from windmaker import store
from windmaker.store.models import AuditEntry


def _snapshot(session: Session) -> list[tuple[object, ...]]:
    return [
        (e.id, e.at, e.actor, e.action, e.subject_type, e.subject_id, e.reason, e.detail)
        for e in store.list_audit(session)
    ]


def _public_functions() -> set[str]:
    return {name for name in store.__all__ if pyinspect.isfunction(getattr(store, name))}


def test_every_public_function_only_appends(session: Session, engine: Engine) -> None:
    """Call every public store function; after each, earlier lines are byte-for-byte unchanged.

    Returned audit records are frozen copies, so a caller cannot edit one either.
    """
    make_provider(session, "P0", status="admitted")
    store.append_audit(
        session, actor="seed", action="seed", subject_type="x", subject_id="1", reason="r"
    )
    session.commit()
    state: dict[str, int] = {}

    def app() -> None:
        state["app"] = store.submit_application(
            session,
            provider_id="P0",
            qualifications={},
            proposed_outcome="admitted",
            reasons=[],
            actor="p",
        ).id

    def propose() -> None:
        state["dec"] = store.propose_decision(
            session, provider_id="P0", kind="warning", proposed_outcome="warned", reasons=[]
        ).id

    def assign() -> None:
        state["asg"] = store.add_assignment(
            session, provider_id="P0", brand_id="B1", started_at=date(2026, 1, 1), actor="a"
        ).id

    def item() -> None:
        state["item"] = store.create_action_item(
            session, brand_id="B1", action_id="A1", owner="P0", actor="a"
        ).id

    def append() -> None:
        store.append_audit(session, actor="a", action="x", subject_type="t", subject_id="1")
        session.commit()

    calls: dict[str, Callable[[], object]] = {
        "upsert_provider": lambda: make_provider(session, "P1"),
        "get_provider": lambda: store.get_provider(session, provider_id="P1"),
        "list_providers": lambda: store.list_providers(session),
        "submit_application": app,
        "get_application": lambda: store.get_application(session, application_id=state["app"]),
        "admission_proposal": lambda: store.admission_proposal(
            session, application_id=state["app"]
        ),
        "review_queue": lambda: store.review_queue(session),
        "decide_application": lambda: store.decide_application(
            session, application_id=state["app"], decision="admitted", reviewer="r", note="n"
        ),
        "propose_decision": propose,
        "get_decision": lambda: store.get_decision(session, decision_id=state["dec"]),
        "list_decisions": lambda: store.list_decisions(session),
        "confirm_decision": lambda: store.confirm_decision(
            session, decision_id=state["dec"], reviewer="r", note="n"
        ),
        "record_evaluation": lambda: store.record_evaluation(
            session,
            provider_id="P0",
            period=date(2026, 9, 1),
            metrics={},
            gmv_served=1,
            score=0.5,
            meets_standard=True,
            severe_violation=False,
            reasons=[],
        ),
        "list_evaluations": lambda: store.list_evaluations(session),
        "add_assignment": assign,
        "end_assignment": lambda: store.end_assignment(
            session, assignment_id=state["asg"], ended_at=date(2026, 5, 1), actor="a", reason="r"
        ),
        "list_assignments": lambda: store.list_assignments(session),
        "add_exclusion": lambda: store.add_exclusion(
            session, brand_id="B1", provider_id="P0", reason="r", actor="a"
        ),
        "list_exclusions": lambda: store.list_exclusions(session),
        "create_action_item": item,
        "set_action_status": lambda: store.set_action_status(
            session, item_id=state["item"], status="done", actor="a"
        ),
        "list_action_items": lambda: store.list_action_items(session),
        "create_user": lambda: store.create_user(
            session, username="u", password="pw", role="operator", actor="a"
        ),
        "get_user_by_name": lambda: store.get_user_by_name(session, username="u"),
        "get_user": lambda: store.get_user(
            session,
            user_id=store.get_user_by_name(session, username="u").id,  # type: ignore[union-attr]
        ),
        "list_users": lambda: store.list_users(session),
        "verify_password": lambda: store.verify_password(
            user=store.get_user_by_name(session, username="u"),  # type: ignore[arg-type]
            password="pw",
        ),
        "authenticate": lambda: store.authenticate(session, username="u", password="pw"),
        "set_password": lambda: store.set_password(
            session, username="u", password="pw2", actor="a"
        ),
        "set_portfolio": lambda: store.set_portfolio(
            session, username="u", brand_ids=["B1"], actor="a"
        ),
        "brands_in_scope": lambda: store.brands_in_scope(
            session,
            user=store.get_user_by_name(session, username="u"),  # type: ignore[arg-type]
        ),
        "append_audit": append,
        "list_audit": lambda: store.list_audit(session),
        "current_revision": lambda: store.current_revision(engine),
        "head_revision": store.head_revision,
        "upgrade": lambda: store.upgrade(engine),
        "make_engine": lambda: store.make_engine("sqlite://").dispose(),
        "engine_for": lambda: None,  # builds an engine from settings; touches no data
        "session_factory": lambda: store.session_factory(engine),
        "open_session": lambda: None,  # every call above runs inside one
    }
    assert set(calls) == _public_functions(), "a new public function needs a case here"
    before = _snapshot(session)
    for name, call in calls.items():
        call()
        after = _snapshot(session)
        assert after[: len(before)] == before, f"{name} altered the audit log"
        before = after
    record = store.list_audit(session)[0]
    with pytest.raises(AttributeError):
        record.reason = "rewritten"  # type: ignore[misc]
    assert len(before) == 18  # one line per change made above, none lost


def _seeded(session: Session) -> AuditEntry:
    make_provider(session, "P1")
    return session.scalars(select(AuditEntry)).one()


def test_orm_update_of_an_entry_is_refused(session: Session) -> None:
    entry = _seeded(session)
    entry.reason = "rewritten"
    with pytest.raises(store.AuditLogImmutableError, match="append-only"):
        session.commit()
    session.rollback()
    assert store.list_audit(session)[0].reason == ""


def test_orm_delete_of_an_entry_is_refused(session: Session) -> None:
    entry = _seeded(session)
    session.delete(entry)
    with pytest.raises(store.AuditLogImmutableError, match="append-only"):
        session.commit()
    session.rollback()
    assert len(store.list_audit(session)) == 1


@pytest.mark.parametrize(
    "stmt",
    [update(AuditEntry).values(reason="x"), delete(AuditEntry)],
    ids=["bulk-update", "bulk-delete"],
)
def test_orm_bulk_statements_are_refused(session: Session, stmt: object) -> None:
    _seeded(session)
    with pytest.raises(store.AuditLogImmutableError):
        session.execute(stmt)  # type: ignore[call-overload]
    session.rollback()
    assert len(store.list_audit(session)) == 1


@pytest.mark.parametrize(
    "sql",
    ["UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"],
    ids=["update", "delete"],
)
def test_raw_sql_is_refused_by_the_database(engine: Engine, sql: str) -> None:
    with store.open_session(engine) as s:
        _seeded(s)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(sql))
    with store.open_session(engine) as s:
        assert [e.reason for e in store.list_audit(s)] == [""]


def test_truncate_is_refused_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        assert engine.dialect.name == "sqlite"  # SQLite has no TRUNCATE; DELETE is covered
        return
    with store.open_session(engine) as s:
        _seeded(s)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
