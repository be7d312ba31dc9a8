"""Factories of ecosystem test inputs: configuration, small planted markets."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from windmaker.ecosystem.config import EcosystemConfig, load_config


@pytest.fixture(scope="session")
def config() -> EcosystemConfig:
    return load_config()


def month(i: int) -> date:
    """Month ``i`` of a test market starting 2025-11 (0-based)."""
    idx = 2025 * 12 + 10 + i
    return date(idx // 12, idx % 12 + 1, 1)


def planted_market(
    *,
    provider_effects: dict[str, float],
    clients_per_provider: int = 4,
    unserved: int = 40,
    months: int = 12,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A one-category market where each provider lifts its clients' monthly growth by a known rate.

    Every brand grows at 1%/month plus noise; a client of provider p grows ``provider_effects[p]``
    more per month from month 0 (served throughout). Returns (brand_month, assignments).
    """
    rng = np.random.default_rng(seed)
    rows, assignments = [], []
    brands: list[tuple[str, float]] = []
    for pid, effect in provider_effects.items():
        for j in range(clients_per_provider):
            bid = f"{pid}-B{j}"
            brands.append((bid, effect))
            assignments.append((pid, bid, date(2025, 6, 1), None))
    brands += [(f"U{j}", 0.0) for j in range(unserved)]
    for bid, effect in brands:
        level = float(np.exp(rng.normal(12, 0.8)))
        for m in range(months):
            level *= float(np.exp(0.01 + effect + rng.normal(0, 0.005)))
            rows.append((bid, "beauty", month(m), round(level, 2)))
    bm = pd.DataFrame(rows, columns=["brand_id", "category", "period", "net_gmv"])
    asg = pd.DataFrame(assignments, columns=["provider_id", "brand_id", "started_at", "ended_at"])
    return bm, asg
