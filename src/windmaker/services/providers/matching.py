"""Matching (服务商匹配): brands that need help to providers, over the whole portfolio."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.ecosystem.evaluation import evaluate_providers
from windmaker.ecosystem.matching import match_brands
from windmaker.i18n import reason_text
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal
from windmaker.services.providers.inputs import assignments_frame, warehouse_frames
from windmaker.services.providers.records import MATCHABLE, MatchRun
from windmaker.services.providers.registry import require_admin
from windmaker.warehouse import Warehouse


def match(
    session: Session,
    wh: Warehouse,
    configs: Configs,
    user: Principal,
    *,
    period: date | None = None,
    record: bool = False,
    today: date | None = None,
) -> MatchRun:
    """Match brands needing help (by bottleneck and category) to providers (服务商匹配) over the
    whole portfolio; with ``record`` the matches become assignments starting ``today``."""
    require_admin(user)
    cfg = configs.ecosystem
    frames = warehouse_frames(wh)
    bottleneck = frames.bottleneck
    if bottleneck is None or bottleneck.empty:
        raise ServiceError(
            "no_data", 409, reason="the warehouse has no g_bottleneck: diagnose first"
        )
    bottleneck = bottleneck.assign(period=pd.to_datetime(bottleneck["period"]))
    month = pd.Timestamp(period) if period else bottleneck["period"].max()
    needs = bottleneck[bottleneck["period"] == month].rename(columns={"capability": "bottleneck"})
    bm = frames.brand_month.assign(period=pd.to_datetime(frames.brand_month["period"]))
    gmv = bm[bm["period"] == month].set_index("brand_id")["net_gmv"].astype(float)
    needs = needs.assign(monthly_gmv=needs["brand_id"].map(gmv).fillna(0.0))
    providers = store.list_providers(session, statuses=MATCHABLE)
    pframe = pd.DataFrame(
        [(p.provider_id, p.capabilities, p.categories, p.capacity) for p in providers],
        columns=["provider_id", "capabilities", "categories", "capacity"],
    )
    assigned = assignments_frame(session)
    month_end = month + pd.offsets.MonthEnd(0)
    ended = pd.to_datetime(assigned["ended_at"])
    active = assigned[ended.isna() | (ended >= month_end)]
    exclusions = pd.DataFrame(
        [(x.brand_id, x.provider_id) for x in store.list_exclusions(session)],
        columns=["brand_id", "provider_id"],
    )
    effects = evaluate_providers(
        brand_month=bm,
        assignments=assigned,
        period=month.date(),
        config=cfg.evaluation,
        stages=frames.stages,
    ).client_effects
    result = match_brands(
        needs[["brand_id", "category", "bottleneck", "monthly_gmv"]].reset_index(drop=True),
        pframe,
        cfg.matching,
        track_record=effects,
        existing=active[["provider_id", "brand_id"]],
        exclusions=exclusions,
    )
    recorded = 0
    if record:
        for row in result.matches.itertuples():
            store.add_assignment(
                session,
                provider_id=str(row.provider_id),
                brand_id=str(row.brand_id),
                started_at=today or date.today(),
                source="match",
                actor=user.username,
                reason=reason_text(row.reason_code, row.reason_params, "en"),
                commit=False,
            )
            recorded += 1
        session.commit()
    return MatchRun(
        month.date(), result.matches, result.unmatched, float(result.total_benefit), recorded
    )
