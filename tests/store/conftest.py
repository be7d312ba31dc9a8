"""Every store test runs on SQLite and on a real PostgreSQL server.

The PostgreSQL URL comes from ``WINDMAKER_TEST_POSTGRES_URL`` (set by
``scripts/test-services.sh``). Locally without it the PostgreSQL half is reported as an error
telling how to run it; in CI (``CI`` set) its absence is a failure, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.store.session import make_engine

PG_ENV = "WINDMAKER_TEST_POSTGRES_URL"


def _postgres_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.fail(
            f"{PG_ENV} is not set: run `bash scripts/test-services.sh .venv/bin/pytest tests/store`"
            + (" (required in CI)" if os.environ.get("CI") else ""),
            pytrace=False,
        )
    return url


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database: a SQLite file, or a freshly reset PostgreSQL schema."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    else:
        engine = make_engine(_postgres_url())
        _reset_postgres(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """An engine on a database migrated to the newest revision."""
    store.upgrade(empty_engine)
    return empty_engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with store.open_session(engine) as s:
        yield s


def make_provider(session: Session, provider_id: str = "P1", **overrides: object) -> object:
    """A provider with plausible defaults (factory of test records)."""
    fields: dict[str, object] = {
        "provider_id": provider_id,
        "name": f"Provider {provider_id}",
        "kind": "brand_operation",
        "capabilities": ["self_operation", "traffic"],
        "categories": ["beauty"],
        "capacity": 10,
        "team_size": 30,
        "gmv_served_12m": "120000000.00",
        "founded_at": date(2018, 1, 1),
        "actor": "admin",
    }
    fields.update(overrides)
    return store.upsert_provider(session, **fields)  # type: ignore[arg-type]
