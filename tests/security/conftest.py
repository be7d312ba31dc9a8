"""A fresh small market per test (``tests/api/factories.py``): users admin, op (B1, B3), p1, b2."""

from __future__ import annotations

import pytest

from tests.api.factories import write_market
from windmaker.config import Settings


@pytest.fixture
def market(workspace: Settings) -> Settings:
    write_market(workspace)
    return workspace
