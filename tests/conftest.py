"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from windmaker.config import Settings
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
