"""Migrations upgrade an empty database and one at the previous revision, and match the models."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import date

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

import windmaker.store
from windmaker import store
from windmaker.store.models import Base


def test_upgrade_empty_database_reaches_head(empty_engine: Engine) -> None:
    assert store.current_revision(empty_engine) is None
    assert store.upgrade(empty_engine) == store.head_revision()
    tables = set(inspect(empty_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_upgrade_from_previous_revision_keeps_data(empty_engine: Engine) -> None:
    store.upgrade(empty_engine, "0001")
    assert "match_exclusions" not in inspect(empty_engine).get_table_names()
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO providers (provider_id, name, kind, capabilities, categories, "
                "capacity, team_size, gmv_served_12m, status, created_at) VALUES "
                "('P9', 'Old', 'traffic_agency', '[\"traffic\"]', '[\"food\"]', 3, 5, 100.50, "
                "'admitted', '2026-01-01 00:00:00')"
            )
        )
    assert store.upgrade(empty_engine) == store.head_revision()
    with store.open_session(empty_engine) as s:
        p = store.get_provider(s, provider_id="P9")
        assert (p.capabilities, str(p.gmv_served_12m)) == (["traffic"], "100.50")
        store.add_exclusion(s, brand_id="B1", provider_id="P9", reason="dispute", actor="admin")
        assert [e.brand_id for e in store.list_exclusions(s)] == ["B1"]
        store.add_assignment(
            s, provider_id="P9", brand_id="B1", started_at=date(2026, 1, 1), actor="a"
        )


def test_models_and_migrations_agree(engine: Engine) -> None:
    """Autogenerate finds nothing to change: the migrations build exactly the models' schema."""
    for module in pkgutil.iter_modules(windmaker.store.__path__):  # register every model
        importlib.import_module(f"windmaker.store.{module.name}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    assert store.upgrade(engine) == store.head_revision()
