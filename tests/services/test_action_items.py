"""Action items move open → doing → done with an owner, a due date and a history.

Known answers are the rules: each change is one history line naming who moved what from which
status to which; a brand user moves its own brand's items but does not assign; a provider works
only on its clients; an item outside the caller's scope is not found.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.config import Settings
from windmaker.services import actions
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal

OPERATOR = Principal(2, "olga", "operator", frozenset({"B1", "B2"}))
BRAND = Principal(4, "bert", "brand", frozenset({"B1"}), brand_id="B1")
PROVIDER = Principal(5, "pia", "provider", frozenset({"B1"}), provider_id=None)


@pytest.fixture
def session(workspace: Settings) -> Iterator[Session]:
    engine = store.engine_for(workspace)
    store.upgrade(engine)
    with store.open_session(engine) as s:
        yield s
    engine.dispose()


def refused(status: int) -> pytest.RaisesExc[ServiceError]:
    return pytest.raises(ServiceError, check=lambda e: e.status == status)


def test_lifecycle_keeps_a_history(session: Session) -> None:
    item = actions.assign(
        session, OPERATOR, "B1", action_id="ka_repurchase", owner="olga", due_date=date(2026, 12, 1)
    )
    actions.update(session, BRAND, item.id, status="doing", note="crm campaign started")
    actions.reassign(session, OPERATOR, item.id, owner="lin", due_date=date(2026, 12, 20))
    actions.update(session, BRAND, item.id, status="doing")  # no move: no history line
    done = actions.update(session, BRAND, item.id, status="done")
    assert (done.status, done.owner, done.due_date) == ("done", "lin", date(2026, 12, 20))
    lines = [
        (e.actor, e.kind, e.from_status, e.to_status, e.owner, e.note)
        for e in actions.item_history(session, BRAND, item.id)
    ]
    assert lines == [
        ("olga", "created", None, "open", "olga", ""),
        ("bert", "status", "open", "doing", None, "crm campaign started"),
        ("olga", "assigned", None, None, "lin", ""),
        ("bert", "status", "doing", "done", None, ""),
    ]
    assert actions.history(session, OPERATOR, "B1") == {
        item.id: actions.item_history(session, OPERATOR, item.id)
    }
    audit = [(e.actor, e.action) for e in store.list_audit(session)]
    assert ("olga", "action_item.assigned") in audit and ("bert", "action_item.status") in audit


def test_brand_user_and_provider_stay_in_their_lane(session: Session) -> None:
    mine = actions.assign(session, OPERATOR, "B1", action_id="a", owner="olga")
    other = actions.assign(session, OPERATOR, "B2", action_id="a", owner="olga")
    with refused(403):
        actions.reassign(session, BRAND, mine.id, owner="bert", due_date=None)
    with refused(404):
        actions.update(session, BRAND, other.id, status="doing")
    with refused(404):
        actions.item_history(session, BRAND, other.id)
    with refused(404):  # a provider's non-client: not found, not forbidden
        actions.reassign(session, PROVIDER, other.id, owner="pia", due_date=None)
    with refused(404):
        actions.update(session, PROVIDER, other.id, status="done")
    moved = actions.reassign(session, PROVIDER, mine.id, owner="pia", due_date=date(2027, 1, 5))
    assert moved.owner == "pia"
    with refused(422):
        actions.reassign(session, OPERATOR, mine.id, owner="  ", due_date=None)
    with refused(404):
        actions.update(session, OPERATOR, 999, status="done")
    assert [i.status for i in actions.brand_items(session, OPERATOR, "B2")] == ["open"]


def test_upgrade_gives_existing_items_their_creation_as_history(workspace: Settings) -> None:
    """Revision 0004 adds the history table and back-fills one line per item already there."""
    engine = store.engine_for(workspace)
    store.upgrade(engine, "0003")
    assert "action_item_events" not in inspect(engine).get_table_names()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO action_items (brand_id, action_id, period, owner, status, due_date, "
                "created_at, updated_at) VALUES ('B1', 'old', NULL, 'olga', 'doing', "
                "'2026-12-01', '2026-11-02 09:30:00', '2026-11-03 10:00:00')"
            )
        )
    assert store.upgrade(engine) == store.head_revision()
    with store.open_session(engine) as s:
        item = store.list_action_items(s, brand_id="B1")[0]
        lines = actions.item_history(s, OPERATOR, item.id)
        assert [(e.kind, e.to_status, e.owner, e.due_date) for e in lines] == [
            ("created", "doing", "olga", date(2026, 12, 1))
        ]
        actions.update(s, OPERATOR, item.id, status="done")
        assert [e.to_status for e in actions.item_history(s, OPERATOR, item.id)] == [
            "doing",
            "done",
        ]
    engine.dispose()
