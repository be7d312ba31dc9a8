"""What the evaluation and the matching read: the store's assignments and dated action items,
and the warehouse's brand-months, stages, bottlenecks, capability indices and trust alerts."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy.orm import Session

from windmaker import results, store
from windmaker.services.errors import ServiceError
from windmaker.warehouse import Warehouse


def assignments_frame(session: Session) -> pd.DataFrame:
    rows = [
        (a.provider_id, a.brand_id, a.started_at, a.ended_at)
        for a in store.list_assignments(session)
    ]
    return pd.DataFrame(rows, columns=["provider_id", "brand_id", "started_at", "ended_at"])


def action_frame(session: Session) -> pd.DataFrame:
    rows = [
        (i.brand_id, i.provider_id, i.status, i.due_date)
        for i in store.list_action_items(session)
        if i.due_date is not None
    ]
    return pd.DataFrame(rows, columns=["brand_id", "provider_id", "status", "due_date"])


@dataclass(frozen=True)
class WarehouseFrames:
    brand_month: pd.DataFrame
    stages: pd.DataFrame | None
    bottleneck: pd.DataFrame | None
    capabilities: pd.DataFrame | None


def warehouse_frames(wh: Warehouse) -> WarehouseFrames:
    """Net GMV per brand-month, stages, first bottlenecks and capability indices."""

    def optional(name: str, *cols: str) -> pd.DataFrame | None:
        if not wh.has_table(name):
            return None
        t = wh.table(name)
        if name == results.BOTTLENECK:
            t = t.filter(t["rank"] == 1)
        return wh.execute(t.select(*cols))

    if not wh.has_table(results.BRAND_MONTH):
        raise ServiceError(
            "no_data", 409, reason="the warehouse has no m_brand_month: refresh first"
        )
    t = wh.table(results.BRAND_MONTH)
    return WarehouseFrames(
        brand_month=wh.execute(t.select("brand_id", "category", "period", "net_gmv")),
        stages=optional(results.STAGE, "brand_id", "period", "stage"),
        bottleneck=optional(results.BOTTLENECK, "brand_id", "category", "period", "capability"),
        capabilities=optional(results.CAPABILITY, "brand_id", "period", "capability", "index"),
    )


def trust_violations(wh: Warehouse) -> pd.DataFrame | None:
    """Brand-level trust alerts as violations (brand_id, period, kind): a severe alert (brushing
    confirmed by both detectors, fraud) is kind ``fraud``; None when trust has not run."""
    if not wh.has_table(results.TRUST_ALERTS):
        return None
    t = wh.table(results.TRUST_ALERTS)
    alerts = wh.execute(
        t.filter(t.brand_id.notnull()).select("brand_id", "period", "kind", "severe")
    )
    kind = alerts["kind"].where(~alerts["severe"].fillna(False).astype(bool), "fraud")
    return alerts.assign(kind=kind)[["brand_id", "period", "kind"]]
