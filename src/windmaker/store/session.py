"""Engines and sessions of the operational store.

SQLite (the embedded default) gets foreign keys switched on for every connection and a busy
timeout, so two writers wait for each other instead of failing at once; PostgreSQL runs as is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from windmaker.config import Settings

#: Seconds a SQLite writer waits for another writer's transaction before giving up.
SQLITE_BUSY_TIMEOUT = 15


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite connections enforce foreign keys."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def engine_for(settings: Settings) -> Engine:
    """The engine of a workspace's store (``Settings.store_url``)."""
    return make_engine(settings.store_url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def open_session(engine: Engine) -> Iterator[Session]:
    """A session that rolls back on error and is closed afterwards (store functions commit)."""
    session = session_factory(engine)()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
