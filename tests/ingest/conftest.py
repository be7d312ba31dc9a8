"""Fixtures of the ingestion tests: a workspace seeded with brands, SKUs and accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingest import factory
from windmaker.config import Settings
from windmaker.ingest import ingest_files


@pytest.fixture
def seeded(workspace: Settings, tmp_path: Path) -> Settings:
    """A workspace whose warehouse holds brands B1, B2; SKUs S1, S2; accounts A1, A2, A3."""
    files = [
        factory.write_csv(tmp_path / "brands.csv", factory.BRANDS_ZH, factory.BRAND_ROWS),
        factory.write_csv(tmp_path / "skus.csv", factory.SKUS_EN, factory.SKU_ROWS),
        factory.write_csv(tmp_path / "accounts.csv", factory.ACCOUNTS_EN, factory.ACCOUNT_ROWS),
    ]
    report = ingest_files(workspace, files, progress=False)
    assert report.rejected == 0 and report.accepted == 7
    return workspace
