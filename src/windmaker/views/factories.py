"""The trade chain's read side: source factories (源头工厂), industrial belts (产业带), how
factory-upgraded brands climb, and factories ranked for one brand.

Every figure comes from the stored ``m_factory_sku_month`` (what each factory's goods did once
sold) through :mod:`windmaker.ecosystem.factories`, computed once per snapshot and shared by the
API, the pages and the CLI, so they show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from windmaker import results
from windmaker.ecosystem import factories as fx
from windmaker.views.frames import records
from windmaker.views.readmodel import ReadModel

#: A factory as shown: identity, outcomes, and its quality score (percentile in its category).
FACTORY_FIELDS = (
    "factory_id",
    "name",
    "region",
    "category",
    "orders",
    "refund_rate",
    "refund_ratio",
    "quality_complaints_per_1k",
    "hit_rate",
    "skus",
    "special_skus",
    "brands",
    "peak_monthly_units",
    "quality_score",
    "gated",
)


def _key(config: fx.FactoryConfig) -> str:
    return config.model_dump_json()


def _sku_months(rm: ReadModel) -> pd.DataFrame:
    return rm.snap.frame(results.FACTORY_SKU_MONTHS)


def profiles(rm: ReadModel, config: fx.FactoryConfig) -> pd.DataFrame:
    """Every factory's profile (:func:`windmaker.ecosystem.factories.factory_profiles`) with
    its raw refund rate, quality score (percentile of the quality index in its category, 0–100)
    and whether the trust gate keeps it out; once per snapshot."""
    snap = rm.snap

    def make() -> pd.DataFrame:
        factories = snap.frame("factories")
        if factories.empty:
            return pd.DataFrame(columns=list(FACTORY_FIELDS[1:])).rename_axis("factory_id")
        out = fx.factory_profiles(_sku_months(rm), factories, config)
        out["refund_rate"] = out["refunded"] / out["orders"].where(out["orders"] > 0)
        out["quality_score"] = (
            out.groupby("category")["quality_index"].rank(pct=True, method="average") * 100.0
        )
        out["gated"] = fx.gated(out, config)
        out["rank_score"] = fx.rank_scores(out, config)
        return out

    frame: pd.DataFrame = snap.memo(("factory_profiles", _key(config)), make)
    return frame


def factory_rows(
    rm: ReadModel, config: fx.FactoryConfig, *, category: str | None = None
) -> list[dict[str, Any]]:
    """Factories (of ``category``), best quality score first, as records of FACTORY_FIELDS."""
    p = profiles(rm, config)
    if category:
        p = p[p["category"] == category]
    p = p.sort_values(["quality_score", "orders"], ascending=[False, False], kind="stable")
    return records(p.reset_index()[list(FACTORY_FIELDS)])


def factory_categories(rm: ReadModel) -> list[str]:
    factories = rm.snap.frame("factories")
    return sorted(factories["category"].dropna().unique()) if not factories.empty else []


def belt_rows(rm: ReadModel, config: fx.FactoryConfig) -> list[dict[str, Any]]:
    """Industrial belts (region × category), largest net GMV first."""
    snap = rm.snap

    def make() -> list[dict[str, Any]]:
        factories = snap.frame("factories")
        sm = _sku_months(rm)
        if factories.empty or sm.empty:
            return []
        return records(fx.belts(sm, factories, config))

    rows: list[dict[str, Any]] = snap.memo(("factory_belts", _key(config)), make)
    return rows


def origin_rows(rm: ReadModel) -> list[dict[str, Any]]:
    """Factory-upgraded brands against traditional ones: how many moved up the ladder, how fast."""
    snap = rm.snap

    def make() -> list[dict[str, Any]]:
        stages, brands = snap.frame(results.STAGE), snap.frame("brands")
        if stages.empty or brands.empty or "origin" not in brands.columns:
            return []
        return records(fx.origin_climb(stages[["brand_id", "period", "stage"]], brands))

    rows: list[dict[str, Any]] = snap.memo(("factory_origins",), make)
    return rows


@dataclass(frozen=True)
class BrandFactories:
    """Factories ranked for one brand looking for a channel-exclusive SKU."""

    brand_id: str
    brand_name: str | None
    category: str | None
    #: the brand's bottleneck is special supply (an SKA candidate's missing criterion)
    special_supply_bottleneck: bool
    picks: tuple[dict[str, Any], ...]


def brand_factories(
    rm: ReadModel, config: fx.FactoryConfig, brand_id: str, *, top: int = 10
) -> BrandFactories:
    """The factories ranked for ``brand_id`` (its category first), each with its profile and
    the reasons of its place; factories already making the brand's goods are left out."""
    brand = rm.brand(brand_id) or {}
    category = brand.get("category")
    p = profiles(rm, config)
    sm = _sku_months(rm)
    own = (
        set(sm.loc[(sm["brand_id"] == brand_id) & sm["factory_id"].notna(), "factory_id"])
        if not sm.empty
        else set()
    )
    picks = (
        fx.rank_for_brand(p, str(category), config, top=top, exclude=own)
        if category and not p.empty
        else []
    )
    ranked = rm.diagnosis(brand_id, None).bottlenecks
    special = bool(ranked) and ranked[0].capability == "special_supply"
    rows = []
    for pick in picks:
        row = records(p.loc[[pick.factory_id]].reset_index()[list(FACTORY_FIELDS)])[0]
        row.update(
            rank=pick.rank,
            score=pick.score,
            same_category=pick.same_category,
            reasons=list(pick.reasons),
        )
        rows.append(row)
    return BrandFactories(brand_id, brand.get("name"), category, special, tuple(rows))
