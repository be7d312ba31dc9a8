"""Windmaker-plan tiers (造风者计划): providers by annual GMV served, against the plan's targets.

A provider's tier is the highest whose ``min_annual_gmv_served`` its trailing-12-month GMV
served reaches. Counts are given per tier (exactly that tier) and at-or-above (the plan's
"providers serving ≥ X" figure). Closeness to the next tier is
``progress = gmv / next threshold`` (1 = there), and the gap in yuan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from windmaker.ecosystem.config import Tier


@dataclass(frozen=True)
class TierStanding:
    provider_id: str
    annual_gmv_served: Decimal
    tier: str | None
    next_tier: str | None
    gap_to_next: Decimal | None
    progress_to_next: float | None


@dataclass(frozen=True)
class TierCount:
    code: str
    name_en: str
    name_zh: str
    threshold: Decimal
    target: int
    in_tier: int
    at_or_above: int

    @property
    def progress(self) -> float:
        """Providers at or above the threshold as a share of the plan's target."""
        return self.at_or_above / self.target if self.target else 1.0


def tier_standings(
    annual_gmv_served: Mapping[str, Decimal | float | int], tiers: Sequence[Tier]
) -> list[TierStanding]:
    """Each provider's tier and distance to the next, highest GMV first."""
    out = []
    ordered = sorted(tiers, key=lambda t: t.min_annual_gmv_served, reverse=True)
    for pid, value in annual_gmv_served.items():
        gmv = Decimal(str(value))
        reached = [t for t in ordered if gmv >= Decimal(str(t.min_annual_gmv_served))]
        tier = reached[0] if reached else None
        above = [t for t in ordered if gmv < Decimal(str(t.min_annual_gmv_served))]
        nxt = above[-1] if above else None
        if nxt is None:
            out.append(TierStanding(pid, gmv, tier.code if tier else None, None, None, None))
            continue
        threshold = Decimal(str(nxt.min_annual_gmv_served))
        out.append(
            TierStanding(
                pid,
                gmv,
                tier.code if tier else None,
                nxt.code,
                threshold - gmv,
                float(gmv / threshold),
            )
        )
    return sorted(out, key=lambda s: (-s.annual_gmv_served, s.provider_id))


def tier_counts(standings: Sequence[TierStanding], tiers: Sequence[Tier]) -> list[TierCount]:
    """How many providers are in each tier, and at or above it, against the plan's targets."""
    out = []
    for t in sorted(tiers, key=lambda t: t.min_annual_gmv_served, reverse=True):
        threshold = Decimal(str(t.min_annual_gmv_served))
        out.append(
            TierCount(
                code=t.code,
                name_en=t.name_en,
                name_zh=t.name_zh,
                threshold=threshold,
                target=t.target_providers,
                in_tier=sum(1 for s in standings if s.tier == t.code),
                at_or_above=sum(1 for s in standings if s.annual_gmv_served >= threshold),
            )
        )
    return out


def closest_to_next_tier(
    standings: Sequence[TierStanding], *, per_tier: int = 10
) -> dict[str, list[TierStanding]]:
    """For each next tier, the ``per_tier`` providers nearest to it (highest progress first)."""
    out: dict[str, list[TierStanding]] = {}
    for s in sorted(standings, key=lambda s: -(s.progress_to_next or 0.0)):
        if s.next_tier is None:
            continue
        bucket = out.setdefault(s.next_tier, [])
        if len(bucket) < per_tier:
            bucket.append(s)
    return out
