"""A small diagnosed market written straight into a workspace, for API and web tests.

Four brands in two categories, two months of results, two providers, one user per role:

| user     | role     | scope                         |
|----------|----------|-------------------------------|
| admin    | admin    | every brand                   |
| op       | operator | portfolio B1, B3              |
| p1       | provider | P1's clients: B1              |
| b2       | brand    | B2                            |
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pandas as pd

from windmaker import contract
from windmaker.config import Settings
from windmaker.store import (
    add_assignment,
    create_user,
    engine_for,
    open_session,
    set_portfolio,
    upgrade,
    upsert_provider,
)
from windmaker.workspace import open_warehouse

PASSWORD = "correct horse battery staple"
BRANDS = {"B1": "beauty", "B2": "beauty", "B3": "food", "B4": "food"}
PERIODS = (date(2026, 9, 1), date(2026, 10, 1))
USERS = {"admin": "admin", "op": "operator", "p1": "provider", "b2": "brand"}
IN_SCOPE = {"admin": "B1", "op": "B1", "p1": "B1", "b2": "B2"}
OUT_OF_SCOPE = {"admin": "B9", "op": "B2", "p1": "B2", "b2": "B1"}
PROVIDER_IN = {"admin": "P1", "op": "P1", "p1": "P1", "b2": None}
PROVIDER_OUT = {"admin": "P9", "op": "P9", "p1": "P2", "b2": "P1"}


def write_market(settings: Settings) -> None:
    brands = pd.DataFrame(
        {
            "brand_id": list(BRANDS),
            "name": ["花西子Demo", "Beauty Two", "Food Three", "Food Four"],
            "category": list(BRANDS.values()),
            "origin": ["traditional", "factory_upgraded", "traditional", "traditional"],
            "joined_at": pd.to_datetime(["2025-01-01"] * 4),
        }
    )
    stage_of = {"B1": "climbing", "B2": "ka", "B3": "zero_breaking", "B4": "climbing"}
    rows_stage, rows_cap, rows_bott, rows_plan, rows_port, rows_month = [], [], [], [], [], []
    for i, (b, cat) in enumerate(BRANDS.items()):
        for p in PERIODS:
            stage = stage_of[b]
            rows_stage.append(
                {
                    "brand_id": b,
                    "category": cat,
                    "period": p,
                    "stage": stage,
                    "candidate_stage": stage,
                    "reason_code": f"ladder.{stage}",
                    "reason_params": json.dumps(
                        {"category": cat, "candidate": stage, "net_gmv_t90d": (i + 1) * 1e6}
                    ),
                }
            )
            rows_month.append(
                {
                    "brand_id": b,
                    "category": cat,
                    "period": p,
                    "net_gmv": Decimal(f"{(i + 1) * 100000}.00"),
                    "net_gmv_t90d": float((i + 1) * 300000),
                    "self_share": 0.3 + 0.1 * i,
                    "self_gmv": 1000.0 * i,
                    "distribution_gmv": 500.0,
                    "paid_gmv": 200.0 * i,
                }
            )
            for j, cap in enumerate(contract.CAPABILITIES):
                rows_cap.append(
                    {
                        "brand_id": b,
                        "category": cat,
                        "period": p,
                        "capability": cap,
                        "index": (j - 2) * 0.5 + i * 0.1,
                        "score": float(20 * j + i),
                    }
                )
                rows_bott.append(
                    {
                        "brand_id": b,
                        "category": cat,
                        "period": p,
                        "capability": cap,
                        "gap": float(5 - j),
                        "rank": j + 1,
                        "reference": "category",
                    }
                )
            for r in range(3):
                rows_plan.append(
                    {
                        "brand_id": b,
                        "period": p,
                        "rank": r + 1,
                        "action_id": f"act_{r}",
                        "capability": contract.CAPABILITIES[r],
                        "metric": "self_share",
                        "current": 0.2,
                        "target": 0.4,
                        "evidence": json.dumps(
                            [{"brand_id": "B4", "from": 0.2, "to": 0.4, "months": 3}]
                        ),
                    }
                )
            rows_port.append(
                {
                    "brand_id": b,
                    "category": cat,
                    "period": p,
                    "stage": stage,
                    "attention": ["stalled", "ok", "ready", "falling"][i],
                    "gmv_at_stake": float(1000 * (4 - i)),
                    "priority": float(4 - i),
                }
            )
    with open_warehouse(settings) as wh:
        wh.insert("brands", brands)
        wh.write("g_stage", pd.DataFrame(rows_stage))
        wh.write("m_capability", pd.DataFrame(rows_cap))
        wh.write("g_bottleneck", pd.DataFrame(rows_bott))
        wh.write("g_plan", pd.DataFrame(rows_plan))
        wh.write("g_portfolio", pd.DataFrame(rows_port))
        wh.write("m_brand_month", pd.DataFrame(rows_month))
        wh.write(
            "mdl_trust_alerts", pd.DataFrame({"brand_id": ["B4"], "reason": ["refund rate 40%"]})
        )

    engine = engine_for(settings)
    upgrade(engine)
    with open_session(engine) as s:
        for pid, name in (("P1", "Provider One"), ("P2", "Provider Two")):
            upsert_provider(
                s,
                provider_id=pid,
                name=name,
                kind="brand_operation",
                capabilities=["self_operation", "traffic"],
                categories=["beauty"],
                capacity=10,
                gmv_served_12m=Decimal("150000000"),
                status="admitted",
                actor="test",
            )
        add_assignment(
            s, provider_id="P1", brand_id="B1", started_at=date(2026, 1, 1), actor="test"
        )
        add_assignment(
            s, provider_id="P2", brand_id="B2", started_at=date(2026, 1, 1), actor="test"
        )
        for username, role in USERS.items():
            create_user(
                s,
                username=username,
                password=PASSWORD,
                role=role,
                actor="test",
                provider_id="P1" if role == "provider" else None,
                brand_id="B2" if role == "brand" else None,
            )
        set_portfolio(s, username="op", brand_ids=["B1", "B3"], actor="test")
    engine.dispose()


def brand_count(settings: Settings) -> int:
    """How many brands the workspace's warehouse holds (what an upload test counts)."""
    with open_warehouse(settings) as wh:
        return int(wh.execute(wh.table("brands").count()))
