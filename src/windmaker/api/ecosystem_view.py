"""The windmaker-plan view of the ecosystem: tiers against targets, and who is closest to the next
(annual GMV served as ``store.evaluations.annual_gmv_served`` defines it)."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from windmaker.api.deps import AppState
from windmaker.ecosystem.config import load_config
from windmaker.ecosystem.tiers import closest_to_next_tier, tier_counts, tier_standings
from windmaker.store.evaluations import annual_gmv_served


def tier_view(state: AppState, session: Session, *, per_tier: int = 10) -> dict[str, Any]:
    tiers = load_config(state.settings.config_path).tiers
    gmv, _source = annual_gmv_served(session)
    standings = tier_standings(gmv, tiers)
    counts = tier_counts(standings, tiers)

    def plain(obj: Any) -> dict[str, Any]:
        return {k: (float(v) if isinstance(v, Decimal) else v) for k, v in asdict(obj).items()}

    return {
        "tiers": [plain(c) | {"progress": c.progress} for c in counts],
        "closest": {
            k: [plain(s) for s in v]
            for k, v in closest_to_next_tier(standings, per_tier=per_tier).items()
        },
        "standings": [plain(s) for s in standings],
    }
