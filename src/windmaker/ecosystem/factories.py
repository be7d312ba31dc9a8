"""Source factories (源头工厂) and industrial belts (产业带): factory quality from what its goods
do once sold, factories ranked for a brand that needs a channel-exclusive (特供) SKU, belts, and
how factory-upgraded brands climb.

Over the SKU × month outcomes (:func:`windmaker.metrics.factories.sku_months`) before a cut-off:

- **refund ratio** = (R + k) / (E + k): R the refunded orders of the factory's goods, E the
  refunds its brands' own refund rates would give on the same orders (Σ orders × the selling
  brand's refund rate that month over all its SKUs), k = ``prior_refunds``. 1 means "as its
  brands"; a thin record is pulled toward 1. Brands differ in how they serve buyers, so the
  factory is compared with the brands it sells through, not with the category.
- **quality complaints per 1,000 orders** = 1000·(Q + m·q̄_c) / (O + m), m = ``prior_orders``,
  q̄_c the category's rate.
- **hit rate** = (H + s·h̄_c) / (n + s): H of its n SKUs are hits (net GMV per month on sale in
  the top ``hit_share`` of the category), s = ``prior_skus``.
- **quality index** = Σ wᵢ·zᵢ over −ln(refund ratio), −complaints, hit rate, each robust-
  standardised within the category: z = (x − median) / IQR.
- **track record**: special-supply SKUs made (z of ln(1 + count)); **capacity**: the most units
  shipped in one month (z of ln units).
- **rank score** = w_q·quality + w_t·track + w_c·capacity; factories of another category are
  offered only after the brand's own, when it has too few. The trust gate: a factory whose refund
  ratio exceeds ``max_refund_ratio`` or whose complaints exceed ``max_complaint_ratio`` × the
  category's is never recommended.

Validated against the simulator's planted factory quality on held-out special-supply launches
(:func:`holdout_relevance`, :func:`ndcg_at`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from windmaker.config import load_yaml_model

CONFIG_FILE = "factories.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QualityConfig(_Strict):
    hit_share: float = Field(gt=0, lt=1)
    prior_refunds: float = Field(ge=0)
    prior_orders: float = Field(ge=0)
    prior_skus: float = Field(ge=0)
    weights: dict[str, float]


class RankingConfig(_Strict):
    w_quality: float = Field(ge=0)
    w_track: float = Field(ge=0)
    w_capacity: float = Field(ge=0)
    min_candidates: int = Field(ge=1)
    max_refund_ratio: float = Field(gt=0)
    max_complaint_ratio: float = Field(gt=0)
    min_orders: int = Field(ge=0)


class BeltConfig(_Strict):
    growth_months: int = Field(ge=1, le=12)


class FactoryConfig(_Strict):
    version: int
    quality: QualityConfig
    ranking: RankingConfig
    belts: BeltConfig


def load_factory_config(config_dir: Path | None = None) -> FactoryConfig:
    """``factories.yaml`` from ``config_dir`` (or the shipped default), validated."""
    return load_yaml_model(FactoryConfig, CONFIG_FILE, config_dir)


def _robust_z(x: pd.Series, group: pd.Series) -> pd.Series:
    """(x − group median) / group IQR (the range when the IQR is 0; 0 when both are)."""
    g = x.groupby(group)
    med, q25, q75 = (
        g.transform("median"),
        g.transform(lambda s: s.quantile(0.25)),
        g.transform(lambda s: s.quantile(0.75)),
    )
    scale = (q75 - q25).where(lambda s: s > 0, g.transform("max") - g.transform("min"))
    return ((x - med) / scale.where(scale > 0)).fillna(0.0)


def hit_skus(sku_months: pd.DataFrame, hit_share: float) -> pd.Series:
    """Per SKU: whether its net GMV per month on sale is in the top ``hit_share`` of its
    category's SKUs (months on sale: from its first month with orders to the last month)."""
    s = sku_months[sku_months["orders"] > 0]
    if s.empty:
        return pd.Series(dtype=bool)
    last = s["period"].max()
    per = s.groupby("sku_id").agg(
        category=("category", "first"), gmv=("net_gmv", "sum"), first=("period", "min")
    )
    months = (
        (last.year - per["first"].map(lambda d: d.year)) * 12
        + (last.month - per["first"].map(lambda d: d.month))
        + 1
    )
    rate = per["gmv"].astype("float64") / months
    cut = rate.groupby(per["category"]).transform(lambda r: r.quantile(1.0 - hit_share))
    return rate >= cut


def factory_profiles(
    sku_months: pd.DataFrame,
    factories: pd.DataFrame,
    config: FactoryConfig,
    *,
    before: date | None = None,
) -> pd.DataFrame:
    """Per factory (index factory_id): its outcomes, quality index, track record and capacity,
    from the SKU × month outcomes before ``before`` (all when None). Formulas: module docstring.
    """
    q = config.quality
    sm = sku_months if before is None else sku_months[sku_months["period"] < before]
    sm = sm.copy()
    sm["net_gmv"] = sm["net_gmv"].astype("float64")
    # what each brand's own refund rate that month would give on the same orders
    bm = sm.groupby(["brand_id", "period"])[["orders", "refunded"]].transform("sum")
    sm["expected_refunds"] = sm["orders"] * (bm["refunded"] / bm["orders"].where(bm["orders"] > 0))
    sm["expected_refunds"] = sm["expected_refunds"].fillna(0.0)
    hits = hit_skus(sm, q.hit_share)
    made = sm[sm["factory_id"].notna()]
    skus = made.drop_duplicates("sku_id")
    agg = made.groupby("factory_id").agg(
        orders=("orders", "sum"),
        refunded=("refunded", "sum"),
        expected_refunds=("expected_refunds", "sum"),
        quality_complaints=("quality_complaints", "sum"),
        net_gmv=("net_gmv", "sum"),
        brands=("brand_id", "nunique"),
    )
    units = made.groupby(["factory_id", "period"])["units"].sum().groupby("factory_id").max()
    agg["peak_monthly_units"] = units
    agg["skus"] = skus.groupby("factory_id").size()
    agg["special_skus"] = skus[skus["special_supply"].astype(bool)].groupby("factory_id").size()
    agg["hit_skus"] = (
        skus.assign(hit=skus["sku_id"].map(hits).fillna(False).astype(bool))
        .groupby("factory_id")["hit"]
        .sum()
    )
    out = factories.set_index("factory_id")[["name", "region", "category"]].join(agg, how="left")
    ints = ["orders", "refunded", "quality_complaints", "brands", "peak_monthly_units", "skus"]
    for col in [*ints, "special_skus", "hit_skus"]:
        out[col] = out[col].fillna(0).astype("int64")
    for col in ("expected_refunds", "net_gmv"):
        out[col] = out[col].fillna(0.0)
    cat = out["category"]
    out["refund_ratio"] = (out["refunded"] + q.prior_refunds) / (
        out["expected_refunds"] + q.prior_refunds
    )
    cat_qc = out.groupby("category")["quality_complaints"].transform("sum") / out.groupby(
        "category"
    )["orders"].transform("sum").where(lambda s: s > 0)
    cat_qc = cat_qc.fillna(0.0)
    out["quality_complaints_per_1k"] = (
        1000.0
        * (out["quality_complaints"] + q.prior_orders * cat_qc)
        / (out["orders"] + q.prior_orders)
    )
    out["category_complaints_per_1k"] = 1000.0 * cat_qc
    cat_hit = out.groupby("category")["hit_skus"].transform("sum") / out.groupby("category")[
        "skus"
    ].transform("sum").where(lambda s: s > 0)
    cat_hit = cat_hit.fillna(0.0)
    out["hit_rate"] = (out["hit_skus"] + q.prior_skus * cat_hit) / (out["skus"] + q.prior_skus)
    w = q.weights
    terms = {
        "refund_ratio": -np.log(out["refund_ratio"]),
        "quality_complaints": -out["quality_complaints_per_1k"],
        "hit_rate": out["hit_rate"],
    }
    out["quality_index"] = sum(w.get(k, 0.0) * _robust_z(v, cat) for k, v in terms.items())
    out["track_record"] = _robust_z(np.log1p(out["special_skus"].astype("float64")), cat)
    out["capacity_index"] = _robust_z(np.log1p(out["peak_monthly_units"].astype("float64")), cat)
    return out


@dataclass(frozen=True)
class FactoryPick:
    """One ranked factory for a brand, with the reasons (codes and the numbers they cite)."""

    factory_id: str
    rank: int
    score: float
    same_category: bool
    reasons: tuple[dict[str, Any], ...]


def gated(profiles: pd.DataFrame, config: FactoryConfig) -> pd.Series:
    """Factories the trust gate keeps out (True), by refund ratio and quality complaints."""
    r = config.ranking
    return (profiles["refund_ratio"] > r.max_refund_ratio) | (
        profiles["quality_complaints_per_1k"]
        > r.max_complaint_ratio * profiles["category_complaints_per_1k"].where(lambda s: s > 0)
    ).fillna(False)


def rank_scores(profiles: pd.DataFrame, config: FactoryConfig) -> pd.Series:
    """The rank score of every factory (module docstring), before the gate and category fit."""
    r = config.ranking
    return (
        r.w_quality * profiles["quality_index"]
        + r.w_track * profiles["track_record"]
        + r.w_capacity * profiles["capacity_index"]
    )


def _reasons(row: pd.Series) -> tuple[dict[str, Any], ...]:
    out: list[dict[str, Any]] = [
        {
            "code": "factory.refunds",
            "params": {"ratio": float(row["refund_ratio"]), "orders": int(row["orders"])},
        },
        {
            "code": "factory.complaints",
            "params": {
                "per_1k": float(row["quality_complaints_per_1k"]),
                "category_per_1k": float(row["category_complaints_per_1k"]),
            },
        },
        {
            "code": "factory.hits",
            "params": {"rate": float(row["hit_rate"]), "skus": int(row["skus"])},
        },
    ]
    if row["special_skus"] > 0:
        out.append({"code": "factory.track", "params": {"special_skus": int(row["special_skus"])}})
    out.append({"code": "factory.capacity", "params": {"units": int(row["peak_monthly_units"])}})
    return tuple(out)


def rank_for_brand(
    profiles: pd.DataFrame,
    category: str,
    config: FactoryConfig,
    *,
    top: int = 10,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> list[FactoryPick]:
    """Factories for a brand of ``category`` looking for a channel-exclusive SKU, best first:
    the category's factories with enough orders, past the trust gate, by rank score; when the
    category has fewer than ``min_candidates``, the best of the others follow them."""
    r = config.ranking
    ok = (profiles["orders"] >= r.min_orders) & ~gated(profiles, config)
    ok &= ~profiles.index.isin(list(exclude))
    score = rank_scores(profiles, config)
    same = profiles["category"] == category
    first = score[ok & same].sort_values(ascending=False, kind="stable")
    ranked = first.head(top)
    if len(first) < r.min_candidates:
        others = score[ok & ~same].sort_values(ascending=False, kind="stable")
        ranked = pd.concat([ranked, others.head(r.min_candidates - len(first))])
    return [
        FactoryPick(
            factory_id=str(fid),
            rank=i + 1,
            score=float(s),
            same_category=bool(same.loc[fid]),
            reasons=_reasons(profiles.loc[fid]),
        )
        for i, (fid, s) in enumerate(ranked.items())
    ]


def belts(sku_months: pd.DataFrame, factories: pd.DataFrame, config: FactoryConfig) -> pd.DataFrame:
    """Industrial belts: factories grouped by region × category, with the factories, the brands
    sourcing from them, their goods' net GMV and its growth (last ``growth_months`` months
    against the ``growth_months`` before; NaN without a base)."""
    # a belt is where its factories are and what they make: the factory's region and category
    made = (
        sku_months[sku_months["factory_id"].notna()]
        .drop(columns="category")
        .merge(factories[["factory_id", "region", "category"]], on="factory_id")
    )
    made = made.assign(net_gmv=made["net_gmv"].astype("float64"))
    n = config.belts.growth_months
    periods = sorted(made["period"].unique())
    recent, base = set(periods[-n:]), set(periods[-2 * n : -n])
    made["recent"] = made["net_gmv"].where(made["period"].isin(recent), 0.0)
    made["base"] = made["net_gmv"].where(made["period"].isin(base), 0.0)
    out = made.groupby(["region", "category"]).agg(
        factories=("factory_id", "nunique"),
        brands=("brand_id", "nunique"),
        net_gmv=("net_gmv", "sum"),
        recent_gmv=("recent", "sum"),
        base_gmv=("base", "sum"),
    )
    all_f = factories.groupby(["region", "category"]).size().rename("factories_listed")
    out = out.join(all_f, how="outer").fillna({"factories": 0, "brands": 0, "net_gmv": 0.0})
    out["growth"] = out["recent_gmv"] / out["base_gmv"].where(out["base_gmv"] > 0) - 1.0
    return out.reset_index().sort_values("net_gmv", ascending=False, ignore_index=True)


def origin_climb(stages: pd.DataFrame, brands: pd.DataFrame) -> pd.DataFrame:
    """How factory-upgraded brands climb against traditional ones: per origin, the brands, the
    share that moved up at least one stage in the data, the median months a step took, and the
    share at KA or above in the last period. ``stages``: brand_id, period, stage (codes)."""
    order = {"zero_breaking": 0, "climbing": 1, "ka": 2, "ska": 3}
    s = stages[stages["stage"].isin(order)].assign(level=lambda d: d["stage"].map(order))
    s = s.sort_values(["brand_id", "period"])
    up = s.groupby("brand_id")["level"].apply(lambda v: bool((v.diff() > 0).any()))
    last = s.groupby("brand_id")["level"].last()
    steps: dict[str, list[int]] = {}
    for bid, g in s.groupby("brand_id"):
        lv, start = g["level"].to_numpy(), 0
        for i in range(1, len(lv)):
            if lv[i] > lv[i - 1]:
                steps.setdefault(str(bid), []).append(i - start)
                start = i
            elif lv[i] < lv[i - 1]:
                start = i
    per = (
        brands.set_index("brand_id")[["origin"]]
        .join(up.rename("moved_up"))
        .join(last.rename("last_level"))
    )
    per = per.dropna(subset=["moved_up"])
    per["step_months"] = [np.median(steps[b]) if b in steps else np.nan for b in per.index]
    out = per.groupby("origin").agg(
        brands=("moved_up", "size"),
        moved_up_share=("moved_up", "mean"),
        median_step_months=("step_months", "median"),
        ka_or_above_share=("last_level", lambda v: float((v >= 2).mean())),
    )
    return out.reset_index()


def holdout_relevance(sku_months: pd.DataFrame, split: date, config: FactoryConfig) -> pd.DataFrame:
    """The outcome of every special-supply SKU launched from ``split`` on by a known factory,
    over the months from ``split``: how often its orders were refunded and its reviews low
    (score ≤ 2), each against its brand's other goods in the same months, as a ratio shrunk as
    the refund ratio is (module docstring): ``outcome = −ln(refund ratio) − ln(low-review
    ratio)`` (0: as the brand's other goods; higher is better). Per factory: ``relevance`` = the
    mean outcome of its launches, graded 0–3 by the category's quartiles. The answer a ranking
    made before ``split`` is held to."""
    k = config.quality.prior_refunds
    post = sku_months[sku_months["period"] >= split].copy()
    counts = ["orders", "refunded", "reviews", "low_reviews"]
    bm = post.groupby(["brand_id", "period"])[counts].transform("sum")
    # what the brand's other goods' rates would give on this SKU's orders and reviews
    for num, den in (("refunded", "orders"), ("low_reviews", "reviews")):
        others = (bm[num] - post[num]) / (bm[den] - post[den]).where(bm[den] > post[den])
        post[f"expected_{num}"] = post[den] * others.fillna(0.0)
    launched = pd.to_datetime(post["launched_at"])
    new = post[
        post["special_supply"].astype(bool)
        & post["factory_id"].notna()
        & (launched >= pd.Timestamp(split) - pd.Timedelta(days=1))
    ]
    sums = ["orders", "refunded", "low_reviews", "expected_refunded", "expected_low_reviews"]
    per = new.groupby(["sku_id", "factory_id", "category"], as_index=False)[sums].sum()
    per = per[per["orders"] > 0]
    per["outcome"] = -np.log((per["refunded"] + k) / (per["expected_refunded"] + k)) - np.log(
        (per["low_reviews"] + k) / (per["expected_low_reviews"] + k)
    )
    fac = per.groupby(["factory_id", "category"], as_index=False).agg(
        launches=("sku_id", "size"), outcome=("outcome", "mean")
    )
    fac["relevance"] = fac.groupby("category")["outcome"].transform(
        lambda v: np.floor(v.rank(pct=True, method="average") * 4 - 1e-9).clip(0, 3)
    )
    return fac


def ndcg_at(ranked: list[str], relevance: dict[str, float], k: int = 10) -> float:
    """NDCG@k of ``ranked`` ids against graded ``relevance`` (gain 2^rel − 1, log2 discount)."""
    gains = [2.0 ** relevance.get(i, 0.0) - 1.0 for i in ranked[:k]]
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((2.0**r - 1.0 for r in relevance.values()), reverse=True)[:k]
    idcg = sum(g / np.log2(i + 2) for i, g in enumerate(ideal))
    return float(dcg / idcg) if idcg > 0 else float("nan")
