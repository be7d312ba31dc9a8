"""One month's final capability scores by brand, category and stage, computed once per
snapshot (the radar and the category-size rule read them on every brand page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class MonthScores:
    """One month's final capability scores as the radar and the category rules read them."""

    #: brand → capability → score
    brands: dict[str, dict[str, float]]
    #: category → capability → median score, and brands scored per category
    category_medians: dict[Any, dict[str, float]]
    sizes: dict[Any, int]
    #: brand → stage, stage → capability → median score, and brands per stage
    stage_of: dict[str, str]
    stage_medians: dict[str, dict[str, float]]
    stage_sizes: dict[str, int]


def month_scores(caps: pd.DataFrame, stages: pd.DataFrame, period: date) -> MonthScores:
    """The month's scores by brand, category and stage (medians over the brands scored)."""
    if caps.empty:
        return MonthScores({}, {}, {}, {}, {}, {})
    now = caps[caps["period"] == period]
    brands: dict[str, dict[str, float]] = {}
    for b, c, v in zip(now["brand_id"], now["capability"], now["score"], strict=True):
        brands.setdefault(str(b), {}).setdefault(str(c), v)

    def medians(frame: pd.DataFrame, by: str) -> dict[Any, dict[str, float]]:
        m = frame.groupby([by, "capability"])["score"].median()
        out: dict[Any, dict[str, float]] = {}
        for (key, cap), v in m.items():
            out.setdefault(key, {})[str(cap)] = float(v)
        return out

    sizes = {k: int(v) for k, v in now.groupby("category")["brand_id"].nunique().items()}
    stage_of: dict[str, str] = {}
    if not stages.empty:
        st_now = stages[stages["period"] == period]
        for b, st in zip(st_now["brand_id"], st_now["stage"], strict=True):
            stage_of.setdefault(str(b), str(st))
    staged = now.assign(stage=now["brand_id"].astype(str).map(stage_of)).dropna(subset=["stage"])
    stage_sizes = {k: int(v) for k, v in staged.groupby("stage")["brand_id"].nunique().items()}
    return MonthScores(
        brands=brands,
        category_medians=medians(now, "category"),
        sizes=sizes,
        stage_of=stage_of,
        stage_medians=medians(staged, "stage"),
        stage_sizes=stage_sizes,
    )
