"""The demo users and the ``windmaker users`` commands as thin adapters over the users service.

Known answers are written into a small store and warehouse by hand: the portfolio ranks brands
by priority, so the operator's brands are the first ``portfolio_size`` of the latest period; the
provider user stands for the first evaluated provider that has clients (an exited provider with
clients and an admitted one without are passed over), and the brand user is its first client.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pandas as pd
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from windmaker import store
from windmaker.cli.main import app as cli_app
from windmaker.config import Settings
from windmaker.services import users
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal, workspace_admin
from windmaker.warehouse import Warehouse
from windmaker.workspace import open_warehouse

ADMIN = workspace_admin("demo")
OPERATOR = Principal(2, "olga", "operator", frozenset({"B1"}))


@pytest.fixture
def session(workspace: Settings) -> Iterator[Session]:
    engine = store.engine_for(workspace)
    store.upgrade(engine)
    with store.open_session(engine) as s:
        yield s
    engine.dispose()


def _provider(session: Session, provider_id: str, status: str, clients: list[str]) -> None:
    store.upsert_provider(
        session,
        provider_id=provider_id,
        name=provider_id,
        kind="brand_operation",
        capabilities=["self_operation"],
        categories=["beauty"],
        capacity=5,
        status=status,
        actor="test",
    )
    for brand_id in clients:
        store.add_assignment(
            session,
            provider_id=provider_id,
            brand_id=brand_id,
            started_at=date(2025, 1, 1),
            actor="test",
        )


@pytest.fixture
def market(session: Session, warehouse: Warehouse) -> Warehouse:
    """Two periods of a five-brand portfolio; three providers, one of them fit to stand in."""
    warehouse.write(
        "g_portfolio",
        pd.DataFrame(
            {
                "brand_id": ["B1", "B2", "B3", "B4", "B5", "B1", "B2"],
                "period": [date(2025, 3, 1)] * 5 + [date(2025, 2, 1)] * 2,
                "priority": [3, 5, 1, 2, 4, 1, 2],
            }
        ),
    )
    _provider(session, "P0", "exited", ["B5"])
    _provider(session, "P1", "admitted", [])
    _provider(session, "P2", "probation", ["B4", "B2"])
    return warehouse


def refused(status: int, code: str) -> pytest.RaisesExc[ServiceError]:
    return pytest.raises(ServiceError, check=lambda e: (e.status, e.code) == (status, code))


def test_demo_users_stand_for_the_portfolio(session: Session, market: Warehouse) -> None:
    """The operator gets the top-priority brands of the latest period (B3, B4, B1), the provider
    user P2 (P0 is exited, P1 has no client), the brand user P2's first client (B4); every one
    of them logs in with the demo password."""
    made = users.create_demo_users(session, market, ADMIN, portfolio_size=3)
    assert [(u.username, u.role, u.refused) for u in made] == [
        ("admin", "admin", None),
        ("operator", "operator", None),
        ("provider", "provider", None),
        ("brand", "brand", None),
    ]
    by_role = {u.role: u for u in made}
    assert by_role["operator"].portfolio == ("B3", "B4", "B1")
    assert by_role["provider"].provider_id == "P2"
    assert by_role["brand"].brand_id == "B4"
    operator = store.get_user_by_name(session, username="operator")
    assert operator is not None
    assert store.brands_in_scope(session, user=operator).brand_ids == {"B1", "B3", "B4"}
    for u in made:
        assert store.authenticate(session, username=u.username, password=users.DEMO_PASSWORD)


def test_demo_users_again_keep_the_users(session: Session, market: Warehouse) -> None:
    """A second run creates nothing, says why for every user, and resets the operator's
    portfolio to the size asked for."""
    users.create_demo_users(session, market, ADMIN, portfolio_size=3)
    again = users.create_demo_users(session, market, ADMIN, password="other", portfolio_size=1)
    assert all(u.refused and "taken" in u.refused for u in again)
    assert len(store.list_users(session)) == 4
    assert not store.authenticate(session, username="admin", password="other")
    operator = store.get_user_by_name(session, username="operator")
    assert operator is not None
    assert store.brands_in_scope(session, user=operator).brand_ids == {"B3"}


def test_demo_users_without_a_provider_with_clients(session: Session, warehouse: Warehouse) -> None:
    """No evaluated provider has clients: no provider user; the brand user is the brand first in
    line (B2, priority 1)."""
    warehouse.write(
        "g_portfolio",
        pd.DataFrame(
            {"brand_id": ["B1", "B2"], "period": [date(2025, 3, 1)] * 2, "priority": [2, 1]}
        ),
    )
    _provider(session, "P1", "admitted", [])
    made = users.create_demo_users(session, warehouse, ADMIN)
    assert [u.role for u in made] == ["admin", "operator", "brand"]
    assert made[-1].brand_id == "B2"


def test_demo_users_refusals(session: Session, warehouse: Warehouse) -> None:
    """No diagnosis yet is a conflict with the state (409), a non-admin is forbidden (403), and
    neither creates a user."""
    with refused(409, "no_data"):
        users.create_demo_users(session, warehouse, ADMIN)
    with refused(403, "forbidden"):
        users.create_demo_users(session, warehouse, OPERATOR)
    assert store.list_users(session) == []


def test_users_commands_call_the_service(workspace: Settings) -> None:
    """``users add`` creates through the service (the portfolio included) and ``users list``
    shows it; the service's refusals (a taken name, no diagnosis) exit 2 with their reason;
    ``users demo`` prints the demo users the service made once the portfolio is there."""
    runner = CliRunner()
    ws = str(workspace.workspace)
    added = runner.invoke(
        cli_app,
        [
            *("users", "add", "olga", "--role", "operator", "--password", "pw-1"),
            *("--portfolio", "B1, B3", "-w", ws),
        ],
    )
    assert added.exit_code == 0, added.output
    engine = store.engine_for(workspace)
    with store.open_session(engine) as s:
        olga = store.get_user_by_name(s, username="olga")
        assert olga is not None
        assert store.brands_in_scope(s, user=olga).brand_ids == {"B1", "B3"}
        assert any(e.actor == "cli" and e.subject_id == "olga" for e in store.list_audit(s))
    engine.dispose()
    listed = runner.invoke(cli_app, ["users", "list", "-w", ws])
    assert listed.exit_code == 0, listed.output
    assert "olga" in listed.output and "operator" in listed.output
    again = runner.invoke(
        cli_app, ["users", "add", "olga", "--role", "admin", "--password", "x", "-w", ws]
    )
    assert again.exit_code == 2
    assert "taken" in again.output
    demo = runner.invoke(cli_app, ["users", "demo", "-w", ws])
    assert demo.exit_code == 2
    assert "g_portfolio" in demo.output
    with open_warehouse(workspace) as wh:
        wh.write(
            "g_portfolio",
            pd.DataFrame(
                {"brand_id": ["B1", "B2"], "period": [date(2025, 3, 1)] * 2, "priority": [2, 1]}
            ),
        )
    demo = runner.invoke(cli_app, ["users", "demo", "--portfolio-size", "1", "-w", ws])
    assert demo.exit_code == 0, demo.output
    assert "1 brands" in demo.output and "windmaker-demo" in demo.output
    assert "olga" not in demo.output
