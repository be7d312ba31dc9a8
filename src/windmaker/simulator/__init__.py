"""A synthetic live-commerce market with planted ground truth (``windmaker simulate``).

``simulate(MarketConfig(brands=..., months=..., seed=...), out_dir)`` writes the nine contract
tables, ``truth/`` (the planted answers) and ``ecosystem/`` (providers and their clients);
``small_market(tmp_dir)`` is a fast small market for tests. See docs/simulator.md.
"""

from __future__ import annotations

from pathlib import Path

from windmaker.simulator.config import MarketConfig, SimulatorParams, load_params
from windmaker.simulator.export import Summary, simulate
from windmaker.simulator.market import build_market

__all__ = [
    "MarketConfig",
    "SimulatorParams",
    "Summary",
    "build_market",
    "load_params",
    "simulate",
    "small_market",
]


def small_market(
    tmp_dir: Path | str,
    seed: int = 0,
    brands: int = 60,
    months: int = 6,
    categories: tuple[str, ...] | None = ("apparel", "beauty"),
) -> Path:
    """A small market written as Parquet to ``tmp_dir`` (returns the folder): 60 brands ×
    6 months in two categories, so each category has a few KA brands; about 0.3 M orders in a
    few seconds. Session-scope it in tests (``tests/simulator/conftest.py``)."""
    out = Path(tmp_dir)
    simulate(MarketConfig(brands=brands, months=months, seed=seed, categories=categories), out)
    return out
