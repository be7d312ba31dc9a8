"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from windmaker.config import Settings
from windmaker.services import providers, users
from windmaker.services.identity import workspace_admin
from windmaker.store import engine_for, open_session, upgrade
from windmaker.warehouse import Warehouse
from windmaker.workspace import init_workspace, open_warehouse


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh workspace in a temporary folder, with no WINDMAKER_* variables leaking in."""
    for key in list(__import__("os").environ):
        if key.startswith("WINDMAKER_") and key != "WINDMAKER_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    return init_workspace(tmp_path / "ws")


@pytest.fixture
def warehouse(workspace: Settings) -> Iterator[Warehouse]:
    wh = open_warehouse(workspace)
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def diagnosed_market(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small simulated market (40 brands × 6 months) taken through the main job end to end:
    simulated files → ingest → providers (the provider workflow's import) → ``run_pipeline``.
    Shared by the pipeline, web and browser tests; nothing in it is written by hand."""
    from windmaker.ingest import ingest_files
    from windmaker.services.run import run_pipeline
    from windmaker.simulator import small_market

    root = tmp_path_factory.mktemp("market")
    market = small_market(root / "files", seed=3)
    settings = init_workspace(root / "ws")
    report = ingest_files(settings, sorted(market.glob("*.parquet")), progress=False)
    assert report.rejected == 0
    engine = engine_for(settings)
    upgrade(engine)
    with open_session(engine) as session:
        frames = providers.read_ecosystem_folder(market / "ecosystem")
        loaded = providers.load(session, workspace_admin("import"), *frames)
    assert loaded.new_providers == loaded.providers > 0
    engine.dispose()
    run_pipeline(settings)
    return settings


DEMO_PASSWORD = users.DEMO_PASSWORD


@pytest.fixture(scope="session")
def web_market(diagnosed_market: Settings) -> Settings:
    """The diagnosed simulated market with the demo users (admin, operator, provider, brand)."""
    engine = engine_for(diagnosed_market)
    with open_warehouse(diagnosed_market) as wh, open_session(engine) as session:
        made = users.create_demo_users(
            session, wh, workspace_admin("demo"), password=DEMO_PASSWORD, portfolio_size=10
        )
    engine.dispose()
    assert [(u.role, u.refused) for u in made] == [
        (role, None) for role in ("admin", "operator", "provider", "brand")
    ]
    return diagnosed_market


@pytest.fixture(scope="session")
def scopes(web_market: Settings) -> dict[str, set[str]]:
    """The brands each demo user sees, read back from the store the way the API does."""
    from windmaker.store import brands_in_scope, engine_for, get_user_by_name, open_session

    with open_warehouse(web_market) as wh:
        every = set(wh.execute(wh.table("brands").select("brand_id"))["brand_id"])
    out = {}
    with open_session(engine_for(web_market)) as s:
        for name in ("admin", "operator", "provider", "brand"):
            user = get_user_by_name(s, username=name)
            assert user is not None
            scope = brands_in_scope(s, user=user)
            out[name] = every if scope.unrestricted else set(scope.brand_ids)
    return out


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Spark session for the whole test run (startup is slow). Its Python workers
    (a per-group map's, e.g. the lifetime-value fits) run this interpreter, which has windmaker."""
    import os
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    where: Path = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("windmaker-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.warehouse.dir", str(where))
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture
def spark_wh(spark_session: Any) -> Warehouse:
    """A warehouse on the shared Spark session with nothing left by an earlier test: its
    temporary views (which would shadow a table of the same name) and tables are dropped."""
    import ibis

    for table in spark_session.catalog.listTables():
        if table.isTemporary:
            spark_session.catalog.dropTempView(table.name)
        else:
            spark_session.sql(f"DROP TABLE IF EXISTS `{table.name}`")
    return Warehouse.from_backend(ibis.pyspark.connect(spark_session))
