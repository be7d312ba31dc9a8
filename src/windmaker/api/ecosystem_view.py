"""The windmaker-plan view of the ecosystem: tiers against targets, and who is closest to the next.

A provider's annual GMV served is taken from its latest evaluation (trailing twelve months of
its client brands' net GMV while served, computed from the warehouse by ``providers evaluate``);
a provider never evaluated counts with the GMV it declared when it applied.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from windmaker.api.deps import AppState
from windmaker.ecosystem.config import load_config
from windmaker.ecosystem.tiers import closest_to_next_tier, tier_counts, tier_standings
from windmaker.store import list_evaluations, list_providers

ACTIVE = ("admitted", "probation", "warned")


def annual_gmv_served(session: Session) -> dict[str, Decimal]:
    latest: dict[str, Any] = {}
    for ev in list_evaluations(session):
        if ev.provider_id not in latest or ev.period > latest[ev.provider_id].period:
            latest[ev.provider_id] = ev
    out: dict[str, Decimal] = {}
    for p in list_providers(session, statuses=ACTIVE):
        found = latest.get(p.provider_id)
        annual = (found.metrics or {}).get("annual_gmv_served") if found is not None else None
        out[p.provider_id] = (
            Decimal(str(annual)) if annual is not None else Decimal(p.gmv_served_12m)
        )
    return out


def tier_view(state: AppState, session: Session, *, per_tier: int = 10) -> dict[str, Any]:
    tiers = load_config(state.settings.config_dir).tiers
    standings = tier_standings(annual_gmv_served(session), tiers)
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
