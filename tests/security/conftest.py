"""Fixtures of the security tests.

- ``market``: a fresh small market per test (``tests/api/factories.py``): users admin, op (B1, B3),
  p1, b2.
- ``template`` / ``ws``: for the fault tests, a simulated workspace ingested and run once with its
  last days of orders held back as the upload, and a copy of it per test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.api.factories import write_market
from windmaker.config import Settings, load_settings
from windmaker.ingest import ingest_files
from windmaker.services.run import run_pipeline
from windmaker.simulator import small_market
from windmaker.store import engine_for, upgrade
from windmaker.workspace import init_workspace


@pytest.fixture
def market(workspace: Settings) -> Settings:
    write_market(workspace)
    return workspace


#: Days of orders held back from the first ingest: the upload the tests add.
NEW_DAYS = 4


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A workspace with all but the last days of a small market ingested and run once, and the
    held-back orders as a Parquet file."""
    root = tmp_path_factory.mktemp("faults")
    files = small_market(root / "files", seed=5, brands=12, months=3)
    orders = pd.read_parquet(files / "orders.parquet")
    cut = orders["paid_at"].max().normalize() - pd.Timedelta(days=NEW_DAYS - 1)
    (root / "base").mkdir()
    for path in files.glob("*.parquet"):
        if path.name != "orders.parquet":
            shutil.copy(path, root / "base" / path.name)
    base = orders[orders["paid_at"] < cut]
    base.to_parquet(root / "base" / "orders.parquet", index=False)
    # the reviews of held-back orders would be refused for an unknown order: left out
    reviews = pd.read_parquet(files / "reviews.parquet")
    reviews = reviews[reviews["order_id"].isin(base["order_id"])]
    reviews.to_parquet(root / "base" / "reviews.parquet", index=False)
    (root / "new").mkdir()
    new = root / "new" / "orders.parquet"
    orders[orders["paid_at"] >= cut].to_parquet(new, index=False)
    settings = init_workspace(root / "template")
    report = ingest_files(settings, sorted((root / "base").glob("*.parquet")), progress=False)
    assert report.rejected == 0, [(f.table, f.reasons) for f in report.files if f.rejected]
    assert run_pipeline(settings).metrics == "full"
    upgrade(engine_for(settings))
    return root / "template", new


@pytest.fixture
def ws(template: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A copy of the template workspace, with no WINDMAKER_* variables leaking in."""
    for key in list(os.environ):
        if key.startswith("WINDMAKER_") and key != "WINDMAKER_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    shutil.copytree(template[0], tmp_path / "ws")
    return load_settings(tmp_path / "ws")
