"""Action items and users as use cases: scope, roles and refusals decided once.

Known answers are the rules themselves: a brand outside the caller's scope is not found, a brand
user does not assign, an action is assigned once per period; only admins create users, and a
wrong password is refused exactly like an unknown user.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.config import Settings
from windmaker.services import actions, users
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal, workspace_admin

ADMIN = workspace_admin("alice")
OPERATOR = Principal(2, "olga", "operator", frozenset({"B1"}))
BRAND = Principal(4, "bert", "brand", frozenset({"B1"}), brand_id="B1")


@pytest.fixture
def session(workspace: Settings) -> Iterator[Session]:
    engine = store.engine_for(workspace)
    store.upgrade(engine)
    with store.open_session(engine) as s:
        yield s
    engine.dispose()


def refused(status: int, code: str) -> pytest.RaisesExc[ServiceError]:
    return pytest.raises(ServiceError, check=lambda e: (e.status, e.code) == (status, code))


def test_assign_and_update_in_scope(session: Session) -> None:
    item = actions.assign(
        session, OPERATOR, "B1", action_id="act_0", owner="olga", due_date=date(2026, 12, 1)
    )
    assert (item.brand_id, item.status, item.provider_id) == ("B1", "open", None)
    moved = actions.update(session, BRAND, item.id, status="doing", note="started")
    assert moved.status == "doing"
    assert [i.status for i in actions.brand_items(session, BRAND, "B1")] == ["doing"]
    assert any(e.actor == "bert" for e in store.list_audit(session))


def test_assign_refusals(session: Session) -> None:
    period = date(2026, 10, 1)
    actions.assign(session, OPERATOR, "B1", action_id="act_0", owner="olga", period=period)
    with refused(404, "not_found"):
        actions.assign(session, OPERATOR, "B2", action_id="act_0", owner="olga")
    with refused(403, "forbidden"):
        actions.assign(session, BRAND, "B1", action_id="act_1", owner="bert")
    with refused(409, "conflict"):
        actions.assign(session, ADMIN, "B1", action_id="act_0", owner="alice", period=period)
    assert len(store.list_action_items(session)) == 1


def test_update_refusals(session: Session) -> None:
    item = actions.assign(session, ADMIN, "B2", action_id="act_0", owner="alice")
    with refused(404, "not_found"):
        actions.update(session, OPERATOR, item.id, status="done")
    with refused(422, "validation"):
        actions.update(session, ADMIN, item.id, status="finished")
    assert actions.brand_items(session, ADMIN, "B2")[0].status == "open"


def test_create_user_and_log_in(session: Session) -> None:
    made = users.create(
        session, ADMIN, username="olga", password="pw-1", role="operator", portfolio=["B1", "B3"]
    )
    assert (made.username, made.role, made.active) == ("olga", "operator", True)
    user = store.get_user_by_name(session, username="olga")
    assert user is not None
    assert store.brands_in_scope(session, user=user).brand_ids == {"B1", "B3"}
    issued = users.login(session, username="olga", password="pw-1", ttl=timedelta(minutes=5))
    assert store.tokens.resolve_token(session, token=issued.token) is not None
    users.logout(session, token=issued.token)
    assert store.tokens.resolve_token(session, token=issued.token) is None


def test_user_refusals(session: Session) -> None:
    users.create(session, ADMIN, username="olga", password="pw-1", role="operator")
    with refused(403, "forbidden"):
        users.create(session, OPERATOR, username="eve", password="x", role="admin")
    with refused(422, "validation"):
        users.create(session, ADMIN, username="olga", password="x", role="operator")
    with refused(422, "validation"):
        users.create(session, ADMIN, username="pat", password="x", role="provider")
    for name, password in (("olga", "wrong"), ("nobody", "pw-1")):
        with refused(401, "bad_credentials"):
            users.login(session, username=name, password=password, ttl=timedelta(minutes=5))
    with refused(403, "forbidden"):
        users.change_password(session, OPERATOR, username="alice", password="x")
    users.change_password(session, OPERATOR, username="olga", password="pw-2")
    assert users.login(session, username="olga", password="pw-2", ttl=timedelta(minutes=5))
    assert [u.username for u in users.list_users(session, ADMIN)] == ["olga"]
