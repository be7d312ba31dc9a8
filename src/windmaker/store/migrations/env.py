"""Alembic environment of the store: run on the connection handed over by ``windmaker.store.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from windmaker.store.models import Base
from windmaker.store.session import make_engine


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:  # pragma: no cover - only when alembic is driven from its own command line
    with make_engine(context.config.get_main_option("sqlalchemy.url") or "").begin() as conn:
        _run(conn)
