"""Fixtures shared by the model tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_simulated_market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The market simulator's small market (100 brands × 3 months, seed 1), written once."""
    from windmaker.simulator import small_market

    return small_market(tmp_path_factory.mktemp("simulated"), seed=1, brands=100, months=3)


@pytest.fixture(scope="session")
def distribution_market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulator's 120 brands × 9 months (2026-02 … 2026-10, seed 0, every category), written
    once per test session and read by the matching and horse-race tests."""
    from windmaker.simulator import small_market

    folder = tmp_path_factory.mktemp("distribution_market")
    small_market(folder, seed=0, brands=120, months=9, categories=None)
    return folder
