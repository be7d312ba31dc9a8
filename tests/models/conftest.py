"""Fixtures shared by the model tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_simulated_market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The market simulator's small market (100 brands × 3 months, seed 1), written once."""
    from windmaker.simulator import small_market

    return small_market(tmp_path_factory.mktemp("simulated"), seed=1, brands=100, months=3)
