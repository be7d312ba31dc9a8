"""Windmaker-plan tiers: counts against targets, and who is closest to the next tier."""

from __future__ import annotations

from decimal import Decimal

from windmaker.ecosystem.config import EcosystemConfig
from windmaker.ecosystem.tiers import closest_to_next_tier, tier_counts, tier_standings


def test_tiers_counts_and_closest(config: EcosystemConfig) -> None:
    gmv = {
        "A": Decimal("1500000000.00"),
        "B": Decimal("1000000000.00"),  # exactly on the threshold: in the tier
        "C": Decimal("999999999.99"),
        "D": Decimal("300000000"),
        "E": Decimal("99000000"),
        "F": Decimal("5000000"),
    }
    standings = {s.provider_id: s for s in tier_standings(gmv, config.tiers)}
    assert [standings[p].tier for p in "ABCDEF"] == [
        "gmv_1b",
        "gmv_1b",
        "gmv_100m",
        "gmv_100m",
        None,
        None,
    ]
    assert standings["C"].gap_to_next == Decimal("0.01")
    assert standings["E"].next_tier == "gmv_100m"
    assert standings["A"].next_tier is None
    counts = {c.code: c for c in tier_counts(list(standings.values()), config.tiers)}
    assert (counts["gmv_1b"].in_tier, counts["gmv_1b"].target) == (2, 100)
    assert (counts["gmv_100m"].in_tier, counts["gmv_100m"].at_or_above) == (2, 4)
    assert counts["gmv_100m"].target == 200
    assert counts["gmv_1b"].progress == 0.02
    closest = closest_to_next_tier(list(standings.values()), per_tier=1)
    assert [s.provider_id for s in closest["gmv_1b"]] == ["C"]
    assert [s.provider_id for s in closest["gmv_100m"]] == ["E"]
