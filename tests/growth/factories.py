"""Hand-made metric frames for growth tests: brands whose stage and weakest capability are set.

Each brand gets a stage path (a list of stage ordinals per month); its metric columns are set so
the default ``ladder.yaml`` criteria give exactly that stage, and its capability indices put the
planted weakest capability lowest, so tests know the answer without any engine.

By default every climbing brand fails the KA self-operation share (20 % < 30 %) and every KA
brand the SKA special-supply share (1 % < 5 %), whatever its planted weakest capability. With
``plant_criteria`` the next stage's capability criteria fail only on the planted capability:
a climbing brand has a 35 % self share unless self-operation is planted (20 %) and a repurchase
rate below the category's 10 % only when private domain is planted (7 %); a KA brand has a 6 %
special-supply share unless special supply is planted (1 %), and its planted capability scores
40 (below the SKA bar of 60). ``behind`` puts the brand's other playbook metrics that fraction
on the worse side of the stage's level (lower, or higher where less is better).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from windmaker import contract

CAPS = contract.CAPABILITIES


def brand_rows(
    brand_id: str,
    category: str,
    path: list[int],
    *,
    start: str = "2025-11-01",
    weakest: str = "traffic",
    size: float = 1.0,
    plant_criteria: bool = False,
    behind: float = 0.0,
) -> tuple[list[dict], list[dict]]:
    """Rows of ``m_brand_month`` and ``m_capability`` for one brand following ``path``."""
    periods = pd.date_range(start, periods=len(path), freq="MS")
    bm, cap = [], []
    for i, (period, stage) in enumerate(zip(periods, path, strict=True)):
        gmv30 = {0: 50_000, 1: 400_000, 2: 3_000_000, 3: 20_000_000}[stage] * size
        bm.append(
            {
                "brand_id": brand_id,
                "category": category,
                "period": period,
                "months_with_sales": 1 + i if stage == 0 else 12 + i,
                "net_gmv_t30d": gmv30,
                "net_gmv_t90d": gmv30 * 3,
                "repurchase_rate_90d": {0: 0.05, 1: 0.10, 2: 0.30, 3: 0.40}[stage],
                "self_share": {0: 0.1, 1: 0.2, 2: 0.45, 3: 0.5}[stage],
                "special_supply_share": {0: 0.0, 1: 0.0, 2: 0.01, 3: 0.08}[stage],
                "active_influencers": 2.0 + 3 * stage,
                "dedicated_gmv": 1000.0 * (1 + stage),
                "top_influencer_share": 0.6 - 0.1 * stage,
                "self_gmv_per_live_hour": 500.0 * (1 + stage) + i,
                "live_hours": 10.0 * (1 + stage),
                "public_share": 0.1
                + 0.1 * stage
                + (0.0 if weakest == "traffic" else 0.05)
                + 0.005 * i,
                "roas": 1.5 + 0.5 * stage,
                "new_follows": 100.0 * (1 + stage),
                "special_supply_skus": float(stage),
                "follower_gmv_share": 0.05 * (1 + stage),
            }
        )
        if plant_criteria:
            bm[-1].update(_planted_criteria(stage, weakest))
        for metric in _BEHIND_HIGHER:
            bm[-1][metric] *= 1.0 - behind
        for metric in _BEHIND_LOWER:
            bm[-1][metric] *= 1.0 + behind
        for c in CAPS:
            base = float(stage) - (1.5 if c == weakest else 0.0)
            score = 90.0 if stage == 3 else 30.0 + 15 * stage
            if plant_criteria and stage == 2 and c == weakest:
                score = 40.0
            cap.append(
                {
                    "brand_id": brand_id,
                    "category": category,
                    "period": period,
                    "capability": c,
                    "index": base,
                    "score": score,
                }
            )
    return bm, cap


#: Playbook metrics ``behind`` moves (not the ladder's criteria nor the planted public share).
_BEHIND_HIGHER = (
    "active_influencers",
    "dedicated_gmv",
    "self_gmv_per_live_hour",
    "live_hours",
    "roas",
    "new_follows",
    "follower_gmv_share",
)
_BEHIND_LOWER = ("top_influencer_share",)


def _planted_criteria(stage: int, weakest: str) -> dict[str, float]:
    """Criteria metrics that fail the next stage's capability criteria only on ``weakest``."""
    if stage == 1:
        return {
            "self_share": 0.20 if weakest == "self_operation" else 0.35,
            "repurchase_rate_90d": 0.07 if weakest == "private_domain" else 0.10,
        }
    if stage == 2:
        return {"special_supply_share": 0.01 if weakest == "special_supply" else 0.06}
    return {}


def market(specs: list[tuple], **kw: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Frames for many brands: specs of (brand_id, category, path, weakest capability[, size
    [, options]]), ``options`` a dict of :func:`brand_rows` keywords for that brand."""
    bm, cap = [], []
    for brand_id, category, path, weakest, *rest in specs:
        size = rest[0] if rest else 1.0
        options = {**kw, **(rest[1] if len(rest) > 1 else {})}
        b, c = brand_rows(brand_id, category, path, weakest=weakest, size=size, **options)  # type: ignore[arg-type]
        bm += b
        cap += c
    return pd.DataFrame(bm), pd.DataFrame(cap)


def filler(
    category: str, n: int, months: int, seed: int = 0
) -> list[tuple[str, str, list[int], str]]:
    """Small climbing brands that dilute the category so the top-share ranks behave."""
    rng = np.random.default_rng(seed)
    return [(f"{category}-f{i}", category, [1] * months, str(rng.choice(CAPS))) for i in range(n)]
