"""Users, argon2 passwords and row-level scope for each role."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from tests.store.conftest import make_provider
from windmaker import store


def test_password_is_hashed_and_verified(session: Session) -> None:
    user = store.create_user(
        session, username="op1", password="s3cret!", role="operator", actor="admin"
    )
    assert user.password_hash.startswith("$argon2id$")
    assert "s3cret!" not in user.password_hash
    assert store.verify_password(user=user, password="s3cret!")
    assert not store.verify_password(user=user, password="wrong")
    assert store.authenticate(session, username="op1", password="s3cret!") is not None
    assert store.authenticate(session, username="op1", password="nope") is None
    assert store.authenticate(session, username="ghost", password="s3cret!") is None


def test_scope_of_each_role(session: Session) -> None:
    make_provider(session, "P1", status="admitted")
    store.add_assignment(
        session, provider_id="P1", brand_id="B1", started_at=date(2026, 1, 1), actor="admin"
    )
    store.add_assignment(
        session,
        provider_id="P1",
        brand_id="B2",
        started_at=date(2025, 1, 1),
        ended_at=date(2025, 6, 30),
        actor="admin",
    )
    admin = store.create_user(session, username="root", password="x", role="admin", actor="sys")
    op = store.create_user(session, username="op", password="x", role="operator", actor="root")
    prov = store.create_user(
        session, username="p1", password="x", role="provider", provider_id="P1", actor="root"
    )
    brand = store.create_user(
        session, username="b3", password="x", role="brand", brand_id="B3", actor="root"
    )
    store.set_portfolio(session, username="op", brand_ids=["B2", "B3"], actor="root")

    assert store.brands_in_scope(session, user=admin).unrestricted
    assert store.brands_in_scope(session, user=op).brand_ids == {"B2", "B3"}
    on = date(2026, 3, 1)
    assert store.brands_in_scope(session, user=prov, on=on).brand_ids == {"B1"}
    assert store.brands_in_scope(session, user=prov, on=date(2025, 3, 1)).brand_ids == {"B2"}
    scope = store.brands_in_scope(session, user=brand)
    assert (scope.allows("B3"), scope.allows("B1")) == (True, False)
    assert scope.filter(["B1", "B3", "B2"]) == ["B3"]


def test_bad_roles_and_links_are_refused(session: Session) -> None:
    with pytest.raises(store.InvalidValueError, match="role"):
        store.create_user(session, username="x", password="x", role="god", actor="a")
    with pytest.raises(store.InvalidValueError, match="provider_id"):
        store.create_user(session, username="x", password="x", role="provider", actor="a")
    with pytest.raises(store.InvalidValueError, match="brand_id"):
        store.create_user(session, username="x", password="x", role="brand", actor="a")
    store.create_user(session, username="x", password="x", role="admin", actor="a")
    with pytest.raises(store.InvalidValueError, match="taken"):
        store.create_user(session, username="x", password="y", role="admin", actor="a")
