"""Influencer matching (达人匹配): which influencers a brand should work with next, and why.

For one brand (or one of its SKUs) the model ranks the influencers the brand has not worked with
yet by the GMV a cooperation is expected to bring. It combines

- **collaborative filtering** over the brand × influencer cooperation history (implicit-feedback
  ALS, the ``implicit`` library): brands that sold through the same influencers are alike, and
  an influencer that alike brands did well with scores high;
- **content signals**: the influencer's share of GMV in the brand's category, its audience price
  band against the SKU's price, orders per 1,000 viewers, recent audience growth, commission rate;
- a **learned ranker** (scikit-learn histogram gradient boosting, a hurdle model): one classifier
  for "a cooperation happens" and one regressor for log GMV given it happens, trained on a time
  split of the history so that it learns how the signals of one period predict the next;
- a **trust gate** (信任电商): an influencer below the trust threshold is never recommended; the
  gate's reason is reported instead.

Data flows as elsewhere in windmaker: :func:`source_expressions` builds Ibis expressions over the
contract tables (monthly aggregates), the warehouse executes them, and :func:`fit_matching` works
on the resulting plain DataFrames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import ibis
import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from windmaker import contract
from windmaker.config import load_yaml_model
from windmaker.models.concentration import ConcentrationConfig
from windmaker.models.hits import HitConfig
from windmaker.models.horse_race import HorseRaceConfig
from windmaker.models.registry import register

CONFIG_FILE = "distribution.yaml"

INFLUENCER = contract.ACCOUNT_KINDS[2]
#: Complaints that speak to the buyer being misled or sold a bad product.
TRUST_COMPLAINTS = ("quality", "misleading", "fake")


# -- configuration ---------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlsConfig(_Strict):
    """Implicit-feedback ALS over brand × influencer cooperations (confidence = 1 + alpha·log1p(GMV))."""

    factors: int = Field(default=16, ge=2)
    regularization: float = Field(default=0.05, gt=0)
    alpha: float = Field(default=2.0, gt=0)
    iterations: int = Field(default=15, ge=1)
    threads: int = Field(default=1, ge=0, description="ALS worker threads; 0 = all cores")


class RankerConfig(_Strict):
    """The histogram gradient boosting hurdle ranker."""

    max_iter: int = Field(default=100, ge=10)
    learning_rate: float = Field(default=0.08, gt=0, le=1)
    max_leaf_nodes: int = Field(default=15, ge=2)
    min_samples_leaf: int = Field(default=20, ge=1)
    l2_regularization: float = Field(default=1.0, ge=0)
    label_months: int = Field(default=3, ge=1, description="months of one label window")
    label_windows: int = Field(
        default=1,
        ge=1,
        description="label windows stacked back from the cutoff (more training pairs)",
    )
    negatives_per_brand: int = Field(default=60, ge=1)
    candidates: int = Field(
        default=1000, ge=10, description="influencers the boosted trees score per brand"
    )
    threads: int = Field(
        default=1,
        ge=1,
        description="OpenMP threads of fit and predict (spinning threads stall a busy machine)",
    )


class TrustGateConfig(_Strict):
    """The interim trust gate (until trust scores are stored in the warehouse)."""

    threshold: float = Field(
        default=60.0, ge=0, le=100, description="minimum trust score to recommend"
    )
    min_orders: int = Field(
        default=30, ge=1, description="below this many orders: insufficient data"
    )
    refund_weight: float = Field(
        default=100.0, ge=0, description="points lost per unit refund rate"
    )
    complaint_weight: float = Field(
        default=0.6, ge=0, description="points lost per complaint per 1k"
    )
    gate_insufficient: bool = Field(
        default=False, description="gate influencers with too few orders"
    )


class MatchingConfig(_Strict):
    """Influencer matching: signals, ranker and gate."""

    history_months: int = Field(
        default=12, ge=1, description="months of history behind the signals"
    )
    growth_months: int = Field(default=3, ge=1, description="window of the recent-growth signal")
    top_k: int = Field(default=20, ge=1)
    seed: int = 7
    als: AlsConfig = AlsConfig()
    ranker: RankerConfig = RankerConfig()
    trust: TrustGateConfig = TrustGateConfig()


class DistributionConfig(_Strict):
    """``distribution.yaml``: matching, hit detection, horse race and concentration."""

    version: int = 1
    matching: MatchingConfig = MatchingConfig()
    hits: HitConfig = HitConfig()
    horse_race: HorseRaceConfig = HorseRaceConfig()
    concentration: ConcentrationConfig = ConcentrationConfig()


def load_distribution_config(config_dir: Path | None = None) -> DistributionConfig:
    """The workspace's ``distribution.yaml`` when it has one, else the shipped default."""
    return load_yaml_model(DistributionConfig, CONFIG_FILE, config_dir)


# -- Ibis: monthly aggregates of the contract tables -----------------------------------------
def _month(col: ibis.Value) -> ibis.Value:
    return col.truncate("M").cast("date")


def _live_orders(orders: ibis.Table, accounts: ibis.Table) -> ibis.Table:
    """Influencer orders that were not cancelled, with net GMV and month."""
    infl = accounts.filter(accounts.kind == INFLUENCER).select("account_id")
    o = orders.filter(orders.status != contract.ORDER_STATUSES[4]).semi_join(infl, "account_id")
    refund = o.refund_amount.fill_null(0)
    return o.mutate(
        month=_month(o.paid_at),
        net=(o.amount - refund).cast("float64"),
        refunded=((o.status == contract.ORDER_STATUSES[3]) | (refund > 0)).cast("int64"),
        unit_price=(o.amount.cast("float64") / o.quantity.cast("float64")),
    )


def source_expressions(tables: Mapping[str, ibis.Table]) -> dict[str, ibis.Table]:
    """Monthly aggregates matching needs, as Ibis expressions over the contract tables.

    Returns ``cooperations`` (brand × influencer × month: gmv, orders, commission, amount),
    ``influencer_months`` (influencer × month: viewers, live seconds, orders, GMV, refunds,
    trust complaints, Σ ln p and Σ ln² p of order amounts), ``influencer_categories``
    (influencer × month × SKU category: gmv), ``influencers`` (id, name, category, fans),
    ``brands`` (id, category, price = geometric mean order amount, else median list price) and ``skus`` (id, brand, category, price).
    """
    orders, accounts = tables[contract.ORDERS.name], tables[contract.ACCOUNTS.name]
    sessions, skus = tables[contract.LIVE_SESSIONS.name], tables[contract.SKUS.name]
    reviews, brands = tables[contract.REVIEWS.name], tables[contract.BRANDS.name]
    o = _live_orders(orders, accounts)

    coops = o.group_by(["brand_id", "account_id", "month"]).aggregate(
        gmv=o.net.sum(),
        orders=o.count(),
        commission=o.commission.fill_null(0).cast("float64").sum(),
        amount=o.amount.cast("float64").sum(),
    )

    # The audience's price band is read off what its buyers pay per order (AOV).
    logp = ibis.greatest(o.amount.cast("float64"), 0.01).ln()
    sales = o.group_by(["account_id", "month"]).aggregate(
        orders=o.count(),
        live_orders=o.session_id.notnull().cast("int64").sum(),
        gmv=o.net.sum(),
        refunds=o.refunded.sum(),
        sum_logp=logp.sum(),
        sum_logp2=(logp * logp).sum(),
    )

    infl = accounts.filter(accounts.kind == INFLUENCER)
    s = sessions.semi_join(infl.select("account_id"), "account_id")
    seconds = s.ended_at.epoch_seconds() - s.started_at.epoch_seconds()
    s = s.mutate(month=_month(s.started_at), live_seconds=seconds.cast("float64"))
    live = s.group_by(["account_id", "month"]).aggregate(
        viewers=s.viewers.cast("float64").sum(),
        watch_seconds=s.watch_seconds.cast("float64").sum(),
        live_seconds=s.live_seconds.sum(),
        sessions=s.count(),
    )

    r = reviews.filter(reviews.complaint.isin(TRUST_COMPLAINTS))
    ro = r.join(o.select("order_id", "account_id", "month"), "order_id")
    complaints = ro.group_by(["account_id", "month"]).aggregate(complaints=ro.count())

    cats = o.join(skus.select("sku_id", sku_category=skus.category), "sku_id")
    categories = cats.group_by(["account_id", "month", "sku_category"]).aggregate(
        gmv=cats.net.sum()
    )

    list_price = skus.group_by("brand_id").aggregate(
        list_price=skus.list_price.cast("float64").median()
    )
    paid = orders.filter(orders.status != contract.ORDER_STATUSES[4])
    aov = paid.group_by("brand_id").aggregate(
        log_aov=ibis.greatest(paid.amount.cast("float64"), 0.01).ln().mean()
    )
    brand_tbl = (
        brands.select("brand_id", "category")
        .left_join(list_price, "brand_id")
        .select("brand_id", "category", "list_price")
        .left_join(aov, "brand_id")
    )
    brand_tbl = brand_tbl.mutate(price=brand_tbl.log_aov.exp().fill_null(brand_tbl.list_price))
    return {
        "cooperations": coops,
        "influencer_sales": sales,
        "influencer_live": live,
        "influencer_complaints": complaints,
        "influencer_categories": categories,
        "influencers": infl.select("account_id", "name", "category", "fans"),
        "brands": brand_tbl.select("brand_id", "category", "price"),
        "skus": skus.select(
            "sku_id", "brand_id", "category", price=skus.list_price.cast("float64")
        ),
    }


@dataclass(frozen=True)
class MatchingFrames:
    """The executed monthly aggregates (plain DataFrames) the model is fitted on."""

    cooperations: pd.DataFrame
    influencer_months: pd.DataFrame
    influencer_categories: pd.DataFrame
    influencers: pd.DataFrame
    brands: pd.DataFrame
    skus: pd.DataFrame

    @classmethod
    def from_results(cls, results: Mapping[str, pd.DataFrame]) -> MatchingFrames:
        """Assemble the frames from the executed :func:`source_expressions`."""
        months = results["influencer_sales"].merge(
            results["influencer_live"], on=["account_id", "month"], how="outer"
        )
        months = months.merge(
            results["influencer_complaints"], on=["account_id", "month"], how="left"
        )
        num = [c for c in months.columns if c not in ("account_id", "month")]
        months[num] = months[num].astype("float64").fillna(0.0)
        return cls(
            cooperations=_months(results["cooperations"]),
            influencer_months=_months(months),
            influencer_categories=_months(results["influencer_categories"]),
            influencers=results["influencers"].reset_index(drop=True),
            brands=results["brands"].reset_index(drop=True),
            skus=results["skus"].reset_index(drop=True),
        )

    def before(self, cutoff: pd.Timestamp) -> MatchingFrames:
        """The same frames with only the months before ``cutoff`` (a time split)."""
        return MatchingFrames(
            cooperations=self.cooperations[self.cooperations.month < cutoff],
            influencer_months=self.influencer_months[self.influencer_months.month < cutoff],
            influencer_categories=self.influencer_categories[
                self.influencer_categories.month < cutoff
            ],
            influencers=self.influencers,
            brands=self.brands,
            skus=self.skus,
        )


def _months(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["month"] = pd.to_datetime(out["month"]).astype("datetime64[ns]")
    for col in ("gmv", "commission", "amount", "orders"):
        if col in out:
            out[col] = out[col].astype("float64")
    return out.reset_index(drop=True)


# -- trust gate ------------------------------------------------------------------------------
class TrustGate(Protocol):
    """Anything that scores influencers' trust and says who may be recommended.

    ``assess`` returns one row per account_id given: ``trust_score`` (0–100, NaN when the data is
    insufficient), ``passes`` (bool), ``reason_en`` / ``reason_zh`` (why, in words).
    """

    def assess(self, account_ids: pd.Index, months: pd.DataFrame) -> pd.DataFrame: ...


@register("trust_gate_proxy")
@dataclass(frozen=True)
class ProxyTrustGate:
    """Interim gate from the influencer's own refund rate and trust complaints per 1,000 orders.

    ``score = clip(100 − refund_weight·refund_rate − complaint_weight·complaints_per_1k, 0, 100)``;
    an influencer passes when ``score ≥ threshold`` (or when its data is insufficient, unless
    ``gate_insufficient``).
    """

    config: TrustGateConfig = field(default_factory=lambda: TrustGateConfig())

    def assess(self, account_ids: pd.Index, months: pd.DataFrame) -> pd.DataFrame:
        agg = months.groupby("account_id")[["orders", "refunds", "complaints"]].sum()
        agg = agg.reindex(account_ids).fillna(0.0)
        orders = agg["orders"].to_numpy()
        refund_rate = np.divide(agg["refunds"], orders, out=np.zeros(len(agg)), where=orders > 0)
        per_1k = np.divide(
            1000 * agg["complaints"], orders, out=np.zeros(len(agg)), where=orders > 0
        )
        c = self.config
        score = np.clip(100 - c.refund_weight * refund_rate - c.complaint_weight * per_1k, 0, 100)
        enough = orders >= c.min_orders
        passes = np.where(enough, score >= c.threshold, not c.gate_insufficient)
        en, zh = [], []
        for ok, s, rr, cp, e in zip(passes, score, refund_rate, per_1k, enough, strict=True):
            if not e:
                en.append("insufficient order history for a trust score")
                zh.append("订单量不足, 暂无信任分")
            elif ok:
                en.append(f"trust score {s:.0f}")
                zh.append(f"信任分 {s:.0f}")
            else:
                en.append(
                    f"trust score {s:.0f} below {c.threshold:.0f}: refund rate {rr:.0%}, "
                    f"{cp:.1f} quality/misleading complaints per 1,000 orders"
                )
                zh.append(
                    f"信任分 {s:.0f} 低于门槛 {c.threshold:.0f}: 退款率 {rr:.0%}, "
                    f"每千单质量/虚假宣传投诉 {cp:.1f} 次"
                )
        return pd.DataFrame(
            {
                "trust_score": np.where(enough, score, np.nan),
                "passes": passes.astype(bool),
                "reason_en": en,
                "reason_zh": zh,
            },
            index=account_ids,
        )


@dataclass(frozen=True)
class ScoreTableTrustGate:
    """Gate on trust scores computed elsewhere (a table of account_id, trust_score 0–100)."""

    scores: pd.DataFrame
    threshold: float = 60.0

    def assess(self, account_ids: pd.Index, months: pd.DataFrame) -> pd.DataFrame:
        s = self.scores.set_index("account_id")["trust_score"].astype("float64")
        s = s[~s.index.duplicated(keep="last")].reindex(account_ids)
        passes = s.isna() | (s >= self.threshold)
        en = [
            "no trust score yet"
            if pd.isna(v)
            else (
                f"trust score {v:.0f}" if ok else f"trust score {v:.0f} below {self.threshold:.0f}"
            )
            for v, ok in zip(s, passes, strict=True)
        ]
        zh = [
            "暂无信任分"
            if pd.isna(v)
            else (f"信任分 {v:.0f}" if ok else f"信任分 {v:.0f} 低于门槛 {self.threshold:.0f}")
            for v, ok in zip(s, passes, strict=True)
        ]
        return pd.DataFrame(
            {
                "trust_score": s.to_numpy(),
                "passes": passes.to_numpy(),
                "reason_en": en,
                "reason_zh": zh,
            },
            index=account_ids,
        )


@register("trust_gate_trust_scores")
@dataclass(frozen=True)
class TrustModuleGate:
    """Gate on the trust module's scores (``mdl_trust_scores``) and its ``is_trusted`` rule.

    Each account's latest scored period before the matching cutoff is used; the reason names
    the score, the threshold and the component that cost the most points.
    """

    scores: pd.DataFrame
    cutoff: pd.Timestamp | None = None

    def assess(self, account_ids: pd.Index, months: pd.DataFrame) -> pd.DataFrame:
        from windmaker.models import trust

        config = trust.load_config()
        acc = self.scores[self.scores["entity"] == "account"].copy()
        acc["period"] = pd.to_datetime(acc["period"])
        if self.cutoff is not None:
            acc = acc[acc["period"] < self.cutoff]
        latest = acc.sort_values("period").groupby("entity_id").last().reindex(account_ids)
        threshold = config.gates.account_exclude_below
        score, passes, en, zh = [], [], [], []
        for _, row in latest.iterrows():
            status = row["status"] if isinstance(row["status"], str) else trust.STATUS_INSUFFICIENT
            s = None if pd.isna(row["score"]) else float(row["score"])
            ok = trust.is_trusted(s, status, config.gates)
            score.append(np.nan if s is None else s)
            passes.append(ok)
            if s is None:
                en.append("insufficient order history for a trust score")
                zh.append("订单量不足, 暂无信任分")
            elif ok:
                en.append(f"trust score {s:.0f}")
                zh.append(f"信任分 {s:.0f}")
            else:
                k, k_zh, value, ref, lost = trust.explain(row, config.score)[0]
                en.append(
                    f"trust score {s:.0f} below {threshold:.0f}: {k} {value:.3g} vs category "
                    f"{ref:.3g} (−{lost:.0f} points)"
                )
                zh.append(
                    f"信任分 {s:.0f} 低于门槛 {threshold:.0f}: {k_zh} {value:.3g}, 类目参考 "
                    f"{ref:.3g} (扣 {lost:.0f} 分)"
                )
        return pd.DataFrame(
            {"trust_score": score, "passes": passes, "reason_en": en, "reason_zh": zh},
            index=account_ids,
        )


# -- signals at a cutoff ---------------------------------------------------------------------
FEATURES = (
    "als_score",
    "category_share",
    "category_match",
    "price_gap",
    "price_z",
    "category_reach",
    "orders_per_1k_viewers",
    "gmv_per_1k_viewers",
    "growth",
    "commission_rate",
    "coop_share",
    "watch_per_viewer",
    "log_fans",
    "log_gmv",
    "log_partners",
    "brand_log_gmv",
    "brand_partners",
)


@dataclass
class MatchingState:
    """Every signal as of one cutoff, as arrays aligned on ``influencer_ids`` (fast to score)."""

    cutoff: pd.Timestamp
    influencer_ids: pd.Index
    names: np.ndarray
    categories: pd.Index
    infl: dict[str, np.ndarray]
    category_share: np.ndarray  # influencers × categories
    category_reach: np.ndarray  # influencers × categories: share of the category's brands served
    brand_ids: pd.Index
    brand_category: np.ndarray  # category code per brand (-1 unknown)
    brand_log_price: np.ndarray
    brand_log_gmv: np.ndarray
    brand_partners: np.ndarray
    partners: dict[str, np.ndarray]  # brand → influencer positions already worked with
    als_user: np.ndarray  # brands × factors (zeros for brands without history)
    als_item: np.ndarray  # influencers × factors (zeros for influencers without history)
    trust: pd.DataFrame
    percentiles: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def id_array(self) -> np.ndarray:
        """The influencer ids as a NumPy array (cheap to index by position)."""
        cached = self.__dict__.get("_id_array")
        if cached is None or len(cached) != len(self.influencer_ids):
            cached = self.influencer_ids.to_numpy(dtype=object)
            self.__dict__["_id_array"] = cached
        return cached

    def brand_context(
        self, brand_id: str, *, price: float | None = None, category: str | None = None
    ) -> tuple[int | None, int, float]:
        """The brand's row (None for a brand without history), the category column (-1: none)
        and the log price the pair features compare with: the given SKU price and category,
        else the brand's own."""
        b = self.brand_ids.get_loc(brand_id) if brand_id in self.brand_ids else None
        if category is not None and category in self.categories:
            cat = int(self.categories.get_loc(category))
        else:
            cat = int(self.brand_category[b]) if b is not None else -1
        if price is not None:
            log_price = float(np.log(max(price, 0.01)))
        else:
            log_price = float(self.brand_log_price[b]) if b is not None else float("nan")
        return b, cat, log_price

    def features_pair(
        self, brand_id: str, *, price: float | None = None, category: str | None = None
    ) -> np.ndarray:
        """Only the brand-dependent columns (:data:`PAIR_FEATURES`) for every influencer."""
        b, cat, log_price = self.brand_context(brand_id, price=price, category=category)
        n = len(self.influencer_ids)
        x = np.empty((n, len(PAIR_FEATURES)), dtype=np.float64)
        x[:, 0] = self.als_item @ self.als_user[b] if b is not None else 0.0
        x[:, 1] = self.category_share[:, cat] if cat >= 0 else np.nan
        x[:, 2] = (self.infl["category_code"] == cat) if cat >= 0 else np.nan
        dev = log_price - self.infl["log_price_mean"]
        sd = self.infl["log_price_sd"]
        x[:, 3] = np.maximum(np.abs(dev) - sd, 0.0)
        x[:, 4] = dev / sd
        x[:, 5] = self.category_reach[:, cat] if cat >= 0 else np.nan
        return x

    def features(
        self,
        brand_id: str,
        *,
        price: float | None = None,
        category: str | None = None,
        rows: np.ndarray | None = None,
    ) -> np.ndarray:
        """The pair-feature matrix (influencers × :data:`FEATURES`) for one brand or SKU.

        ``rows`` limits it to those influencer positions (the candidates of the second stage).
        """
        b = self.brand_ids.get_loc(brand_id) if brand_id in self.brand_ids else None
        sel = slice(None) if rows is None else rows
        n = len(self.influencer_ids) if rows is None else len(rows)
        if category is not None and category in self.categories:
            cat = self.categories.get_loc(category)
        else:
            cat = int(self.brand_category[b]) if b is not None else -1
        log_price = (
            np.log(max(price, 0.01))
            if price is not None
            else (self.brand_log_price[b] if b is not None else np.nan)
        )
        i = self.infl if rows is None else {k: v[sel] for k, v in self.infl.items()}
        x = np.empty((n, len(FEATURES)), dtype=np.float64)
        x[:, 0] = self.als_item[sel] @ self.als_user[b] if b is not None else 0.0
        if cat >= 0:
            x[:, 1] = self.category_share[sel, cat]
            x[:, 2] = i["category_code"] == cat
        else:
            x[:, 1] = np.nan
            x[:, 2] = np.nan
        dev = log_price - i["log_price_mean"]
        sd = i["log_price_sd"]
        x[:, 3] = np.maximum(np.abs(dev) - sd, 0.0)
        x[:, 4] = dev / sd
        x[:, 5] = self.category_reach[sel, cat] if cat >= 0 else np.nan
        x[:, 6] = i["orders_per_1k"]
        x[:, 7] = i["gmv_per_1k"]
        x[:, 8] = i["growth"]
        x[:, 9] = i["commission_rate"]
        x[:, 10] = i["coop_share"]
        x[:, 11] = i["watch_per_viewer"]
        x[:, 12] = i["log_fans"]
        x[:, 13] = i["log_gmv"]
        x[:, 14] = i["log_partners"]
        x[:, 15] = self.brand_log_gmv[b] if b is not None else 0.0
        x[:, 16] = self.brand_partners[b] if b is not None else 0.0
        return x


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.full(a.shape, np.nan), where=b > 0)


def build_state(
    frames: MatchingFrames,
    cutoff: pd.Timestamp,
    config: MatchingConfig,
    gate: TrustGate | None = None,
) -> MatchingState:
    """Compute every signal from the history strictly before ``cutoff``.

    Influencer signals (over the last ``history_months``):
    orders per 1,000 viewers = 1000·live_orders/viewers; GMV per 1,000 viewers likewise;
    growth = ln((viewers in the last g months + 1) / (viewers in the g months before + 1));
    commission rate = Σcommission/Σamount over its cooperations; audience price band = the
    mean ± one standard deviation of ln(order amount) of what its buyers paid.
    """
    f = frames.before(cutoff)
    start = cutoff - pd.DateOffset(months=config.history_months)
    infl_ids = pd.Index(frames.influencers["account_id"].astype(str), name="account_id")
    n = len(infl_ids)
    m = f.influencer_months[f.influencer_months.month >= start]
    agg = m.groupby("account_id").sum(numeric_only=True).reindex(infl_ids).fillna(0.0)
    g = config.growth_months
    recent_start, prior_start = (
        cutoff - pd.DateOffset(months=g),
        cutoff - pd.DateOffset(months=2 * g),
    )
    recent = m[m.month >= recent_start].groupby("account_id")["viewers"].sum()
    prior = (
        m[(m.month >= prior_start) & (m.month < recent_start)]
        .groupby("account_id")["viewers"]
        .sum()
    )
    recent = recent.reindex(infl_ids).fillna(0.0).to_numpy()
    prior = prior.reindex(infl_ids).fillna(0.0).to_numpy()

    coops = f.cooperations[f.cooperations.month >= start]
    by_infl = coops.groupby("account_id")[["commission", "amount", "gmv"]].sum().reindex(infl_ids)
    partners_n = coops.groupby("account_id")["brand_id"].nunique().reindex(infl_ids).fillna(0)
    # Share of the brand-month's distribution GMV a cooperation took: the influencer's pull,
    # net of how big its partner brands are; shrunk toward the mean share with 2 pseudo-cases.
    month_total = coops.groupby(["brand_id", "month"])["gmv"].transform("sum")
    share_of = np.clip(coops["gmv"] / month_total.where(month_total > 0), 0, 1)
    sh = share_of.groupby(coops["account_id"]).agg(["sum", "count"]).reindex(infl_ids).fillna(0)
    prior_share = float(share_of.mean()) if len(share_of) else 0.0
    coop_share = (sh["sum"] + 2 * prior_share) / (sh["count"] + 2)

    n_orders = agg["orders"].to_numpy()
    mean_logp = _safe_div(agg["sum_logp"], n_orders)
    var_logp = _safe_div(agg["sum_logp2"], n_orders) - mean_logp**2
    sd_logp = np.sqrt(np.clip(np.nan_to_num(var_logp, nan=0.0), 0.0, None))
    # A floor on the band's width: one order does not make an audience's price band.
    sd_logp = np.maximum(sd_logp, 0.15)

    categories = pd.Index(
        sorted(
            set(frames.brands["category"].dropna().astype(str))
            | set(frames.skus["category"].dropna().astype(str))
            | set(frames.influencers["category"].dropna().astype(str))
        )
    )
    ic = f.influencer_categories[f.influencer_categories.month >= start]
    share = np.zeros((n, len(categories)))
    if len(ic):
        piv = ic.pivot_table(
            index="account_id", columns="sku_category", values="gmv", aggfunc="sum", fill_value=0
        )
        piv = piv.reindex(index=infl_ids, columns=categories).fillna(0.0)
        vals = np.clip(piv.to_numpy(dtype=np.float64), 0, None)
        tot = vals.sum(axis=1, keepdims=True)
        share = np.divide(vals, tot, out=np.full_like(vals, np.nan), where=tot > 0)

    # Share of each category's brands that sold through the influencer: how sought-after it is
    # by brands like this one.
    reach = np.zeros((n, len(categories)))
    if len(coops):
        bc = frames.brands.set_index(frames.brands["brand_id"].astype(str))["category"].astype(str)
        cb = coops[["brand_id", "account_id"]].drop_duplicates()
        cb = cb.assign(category=cb["brand_id"].astype(str).map(bc))
        counts = cb.pivot_table(
            index="account_id", columns="category", values="brand_id", aggfunc="count"
        )
        counts = counts.reindex(index=infl_ids, columns=categories).fillna(0.0)
        per_cat = bc.value_counts().reindex(categories).fillna(0).to_numpy(dtype=np.float64)
        reach = counts.to_numpy(dtype=np.float64) / np.maximum(per_cat, 1.0)[None, :]

    fans = pd.to_numeric(frames.influencers["fans"], errors="coerce").fillna(0).to_numpy()
    infl = {
        "category_code": categories.get_indexer(frames.influencers["category"].astype(str)),
        "log_price_mean": mean_logp,
        "log_price_sd": sd_logp,
        "orders_per_1k": 1000 * _safe_div(agg["live_orders"], agg["viewers"]),
        "gmv_per_1k": 1000 * _safe_div(agg["gmv"], agg["viewers"]),
        "growth": np.log((recent + 1.0) / (prior + 1.0)),
        "commission_rate": _safe_div(by_infl["commission"].fillna(0), by_infl["amount"].fillna(0)),
        "coop_share": coop_share.to_numpy(dtype=np.float64),
        "watch_per_viewer": _safe_div(agg["watch_seconds"], agg["viewers"]),
        "log_fans": np.log1p(fans),
        "log_gmv": np.log1p(np.clip(agg["gmv"].to_numpy(), 0, None)),
        "log_partners": np.log1p(partners_n.to_numpy(dtype=np.float64)),
        "fans": fans,
        "gmv": agg["gmv"].to_numpy(),
    }

    brand_ids = pd.Index(frames.brands["brand_id"].astype(str), name="brand_id")
    brand_cat = categories.get_indexer(frames.brands["category"].astype(str))
    bprice = pd.to_numeric(frames.brands["price"], errors="coerce").to_numpy(dtype=np.float64)
    all_coops = f.cooperations
    bgmv = coops.groupby("brand_id")["gmv"].sum().reindex(brand_ids).fillna(0.0).to_numpy()
    bpart = all_coops.groupby("brand_id")["account_id"].nunique().reindex(brand_ids).fillna(0)
    pos = infl_ids.get_indexer(all_coops["account_id"].astype(str))
    partner_map = {
        str(b): np.unique(p[p >= 0])
        for b, p in pd.Series(pos).groupby(all_coops["brand_id"].astype(str).to_numpy())
    }
    user, item = fit_als(coops, brand_ids, infl_ids, config.als, seed=config.seed)
    trust = (gate or ProxyTrustGate(config.trust)).assess(infl_ids, f.influencer_months)
    state = MatchingState(
        cutoff=cutoff,
        influencer_ids=infl_ids,
        names=frames.influencers["name"].astype(str).to_numpy(),
        categories=categories,
        infl=infl,
        category_share=share,
        category_reach=reach,
        brand_ids=brand_ids,
        brand_category=brand_cat,
        brand_log_price=np.log(np.clip(bprice, 0.01, None)),
        brand_log_gmv=np.log1p(np.clip(bgmv, 0, None)),
        brand_partners=np.log1p(bpart.to_numpy(dtype=np.float64)),
        partners=partner_map,
        als_user=user,
        als_item=item,
        trust=trust,
    )
    state.percentiles = {
        k: _percentile_ranks(infl[k]) for k in ("orders_per_1k", "growth", "fans", "gmv")
    }
    return state


def _percentile_ranks(v: np.ndarray) -> np.ndarray:
    """Percentile (0–1) of each value among the finite values; NaN stays NaN."""
    s = pd.Series(v)
    return s.rank(pct=True).to_numpy()


def fit_als(
    coops: pd.DataFrame,
    brand_ids: pd.Index,
    infl_ids: pd.Index,
    config: AlsConfig,
    *,
    seed: int = 7,
) -> tuple[np.ndarray, np.ndarray]:
    """Brand and influencer factors of implicit-feedback ALS (Hu, Koren & Volinsky 2008).

    Minimises Σ c_bi (p_bi − x_b·y_i)² + λ(‖x‖² + ‖y‖²) with preference p_bi = 1 when brand b
    sold through influencer i and confidence c_bi = 1 + alpha·log1p(GMV_bi / 100).
    BLAS is held to one thread during the fit: ALS parallelises itself, and a threaded BLAS
    underneath it oversubscribes the cores.
    """
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    k = config.factors
    user = np.zeros((len(brand_ids), k), dtype=np.float32)
    item = np.zeros((len(infl_ids), k), dtype=np.float32)
    pair = coops.groupby(["brand_id", "account_id"], as_index=False)["gmv"].sum()
    pair = pair[pair.gmv > 0]
    rows = brand_ids.get_indexer(pair["brand_id"].astype(str))
    cols = infl_ids.get_indexer(pair["account_id"].astype(str))
    ok = (rows >= 0) & (cols >= 0)
    if ok.sum() < 2:
        return user, item
    conf = config.alpha * np.log1p(pair["gmv"].to_numpy()[ok] / 100.0)
    mat = sp.csr_matrix(
        (conf.astype(np.float32), (rows[ok], cols[ok])), shape=(len(brand_ids), len(infl_ids))
    )
    # ``implicit`` adds the 1 of c = 1 + alpha·r itself (its own alpha is applied to the data).
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=k,
            regularization=config.regularization,
            alpha=1.0,
            iterations=config.iterations,
            num_threads=config.threads,
            random_state=seed,
            use_gpu=False,
        )
        model.fit(mat, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


# -- the learned ranker ----------------------------------------------------------------------
_CONTROLLER: list[object] = []


def _openmp() -> Any:
    """One threadpool controller for the process: finding the libraries costs milliseconds."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


#: Features that change with the brand or SKU (the rest are the influencer's own).
PAIR_FEATURES = (0, 1, 2, 3, 4, 5)


@dataclass
class Retrieval:
    """Linear first stage: ridge regression of log1p(GMV) on standardised features.

    ``score = Σ_f w_f·(x_f − m_f)/s_f`` (a missing value scores as the mean). The influencers'
    own part is summed once at fit time, so scoring 100,000 influencers for a brand costs a few
    vector operations.
    """

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    static: np.ndarray  # influencers' own part of the score

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, state: MatchingState) -> Retrieval:
        mean = np.nanmean(x, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        scale = np.nanstd(x, axis=0)
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        z = np.nan_to_num((x - mean) / scale, nan=0.0)
        target = np.log1p(y)
        gram = z.T @ z + 1.0 * np.eye(z.shape[1])
        weight = np.linalg.solve(gram, z.T @ (target - target.mean()))
        return cls(mean, scale, weight, np.empty(0)).for_state(state)

    def for_state(self, state: MatchingState) -> Retrieval:
        """The same weights with the influencers' own part summed over ``state``'s influencers."""
        static_cols = [f for f in range(len(FEATURES)) if f not in PAIR_FEATURES]
        full = state.features(str(state.brand_ids[0]))[:, static_cols]
        zs = np.nan_to_num((full - self.mean[static_cols]) / self.scale[static_cols], nan=0.0)
        return Retrieval(self.mean, self.scale, self.weight, zs @ self.weight[static_cols])

    def score(
        self,
        state: MatchingState,
        brand_id: str,
        *,
        price: float | None = None,
        category: str | None = None,
    ) -> np.ndarray:
        """The linear score up to a constant (enough to rank): Σ_f (w_f/s_f)·(x_f − m_f)."""
        b, cat, log_price = state.brand_context(brand_id, price=price, category=category)
        k = self.weight / self.scale
        out = self.static.copy()
        if b is not None:
            # ALS: a dot product with the brand's factors, scaled (the centring is a constant).
            out += state.als_item @ (state.als_user[b] * np.float32(k[0]))
        if cat >= 0:
            for f, col in ((1, state.category_share[:, cat]), (5, state.category_reach[:, cat])):
                out += k[f] * np.nan_to_num(col - self.mean[f], nan=0.0)
            out += k[2] * (state.infl["category_code"] == cat)
        if np.isfinite(log_price):
            dev = log_price - state.infl["log_price_mean"]
            sd = state.infl["log_price_sd"]
            gap = np.maximum(np.abs(dev) - sd, 0.0)
            out += k[3] * np.nan_to_num(gap - self.mean[3], nan=0.0)
            out += k[4] * np.nan_to_num(dev / sd - self.mean[4], nan=0.0)
        return out


@dataclass
class MatchingModel:
    """A fitted matcher: signals at the cutoff, the hurdle ranker, the gate's verdicts."""

    state: MatchingState
    classifier: object
    regressor: object
    residual_var: float
    negative_rate: float  # share of non-cooperating pairs kept in training, to correct odds
    config: MatchingConfig
    skus: pd.DataFrame
    retrieval: Retrieval | None = None

    def candidates(
        self,
        brand_id: str,
        *,
        price: float | None = None,
        category: str | None = None,
        linear: np.ndarray | None = None,
    ) -> np.ndarray:
        """Eligible influencer positions the boosted ranker scores for this brand.

        With more eligible influencers than ``ranker.candidates``, a linear first stage keeps the
        best ``candidates`` of them (retrieve, then rank): the trees cost time per row.
        """
        eligible = self.eligible(brand_id)
        pos = np.flatnonzero(eligible)
        k = self.config.ranker.candidates
        if self.retrieval is None or len(pos) <= k:
            return pos
        if linear is None:
            linear = self.retrieval.score(self.state, brand_id, price=price, category=category)
        lin = np.where(eligible, linear, -np.inf)
        return np.argpartition(-lin, k)[:k]

    def score(
        self,
        brand_id: str,
        *,
        price: float | None = None,
        category: str | None = None,
        rows: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Predicted cooperation outcome for every influencer (one brand or SKU).

        ``p = odds⁻¹(odds(p̂)·r)`` corrects the classifier for the negatives' sampling rate r;
        GMV if cooperating = exp(μ̂ + s²/2) (log-normal mean); expected GMV = p × that.
        """
        x = self.state.features(brand_id, price=price, category=category, rows=rows)
        ids = (
            self.state.influencer_ids
            if rows is None
            else pd.Index(self.state.id_array[rows], name="account_id")
        )
        if len(x) == 0:
            empty = np.empty(0)
            p_hat, mu = empty, empty
        else:
            p_hat, mu = self._predict(x)
        odds = p_hat / np.clip(1 - p_hat, 1e-9, None) * self.negative_rate
        p = odds / (1 + odds)
        gmv_if = np.exp(mu + self.residual_var / 2)
        out = pd.DataFrame(
            {"p_cooperate": p, "gmv_if_cooperating": gmv_if, "expected_gmv": p * gmv_if},
            index=ids,
        )
        return pd.concat([out, pd.DataFrame(x, columns=list(FEATURES), index=ids)], axis=1)

    def rank_positions(
        self, brand_id: str, *, price: float | None = None, category: str | None = None
    ) -> np.ndarray:
        """Positions of eligible influencers, best first (no partners, gate passed)."""
        cand = self.candidates(brand_id, price=price, category=category)
        x = self.state.features(brand_id, price=price, category=category, rows=cand)
        p_hat, mu = self._predict(x)
        odds = p_hat / np.clip(1 - p_hat, 1e-9, None)
        # The ordering only needs p·exp(μ̂): constants drop out.
        score = np.log(np.clip(odds / (1 + odds * self.negative_rate), 1e-12, None)) + mu
        return cand[np.argsort(-score, kind="stable")]

    def _predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P̂(cooperation) and μ̂ = E[ln GMV | cooperation] for each row of ``x``."""
        with _openmp().limit(limits=self.config.ranker.threads, user_api="openmp"):
            p_hat = self.classifier.predict_proba(x)[:, 1]  # type: ignore[attr-defined]
            mu = self.regressor.predict(x)  # type: ignore[attr-defined]
        return np.asarray(p_hat), np.asarray(mu)

    def eligible(self, brand_id: str) -> np.ndarray:
        """Influencers the brand has not worked with and that pass the trust gate."""
        mask = self.state.trust["passes"].to_numpy(dtype=bool).copy()
        mask[self.state.partners.get(brand_id, np.array([], dtype=int))] = False
        return mask


def _training_pairs(
    frames: MatchingFrames,
    label_start: pd.Timestamp,
    cutoff: pd.Timestamp,
    state: MatchingState,
    config: MatchingConfig,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Features at ``label_start`` and outcomes in [label_start, cutoff) of new pairs.

    Positives are the cooperations of brands with influencers new to them; negatives a uniform
    sample of the pairs that did not happen. Returns X, the GMV of each pair (0 for negatives)
    and the sampling rate of the negatives.
    """
    rng = np.random.default_rng(config.seed)
    lab = frames.cooperations[
        (frames.cooperations.month >= label_start) & (frames.cooperations.month < cutoff)
    ]
    lab = lab.groupby(["brand_id", "account_id"], as_index=False)["gmv"].sum()
    lab = lab[lab.gmv > 0]
    xs, ys = [], []
    kept = total = 0
    n = len(state.influencer_ids)
    for brand_id, grp in lab.groupby("brand_id"):
        bid = str(brand_id)
        if bid not in state.brand_ids:
            continue
        pos = state.influencer_ids.get_indexer(grp["account_id"].astype(str))
        gmv = grp["gmv"].to_numpy()[pos >= 0]
        pos = pos[pos >= 0]
        old = state.partners.get(bid, np.array([], dtype=int))
        new = ~np.isin(pos, old)
        pos, gmv = pos[new], gmv[new]
        if len(pos) == 0:
            continue
        excluded = np.zeros(n, dtype=bool)
        excluded[old] = True
        excluded[pos] = True
        pool = np.flatnonzero(~excluded)
        neg = rng.choice(
            pool, size=min(config.ranker.negatives_per_brand, len(pool)), replace=False
        )
        kept += len(neg)
        total += len(pool)
        x = state.features(bid)
        xs.append(x[np.concatenate([pos, neg])])
        ys.append(np.concatenate([gmv, np.zeros(len(neg))]))
    if not xs:
        raise ValueError(
            "no new cooperations in the label window: the history is too short to learn a ranker"
        )
    return np.vstack(xs), np.concatenate(ys), kept / max(total, 1)


@register("influencer_matching")
def fit_matching(
    frames: MatchingFrames,
    cutoff: pd.Timestamp | str,
    config: MatchingConfig | None = None,
    gate: TrustGate | None = None,
) -> MatchingModel:
    """Fit the matcher on the history before ``cutoff``.

    The ranker learns on a time split inside that history: signals as of
    ``cutoff − label_months`` against the new cooperations of the last ``label_months``; the
    signals are then recomputed on the whole history for scoring.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    config = config or MatchingConfig()
    cutoff = pd.Timestamp(cutoff)
    r = config.ranker
    xs, ys, rates = [], [], []
    for k in range(r.label_windows):
        label_end = cutoff - pd.DateOffset(months=k * r.label_months)
        label_start = label_end - pd.DateOffset(months=r.label_months)
        if frames.cooperations.month.min() >= label_start:
            break
        train_state = build_state(frames, label_start, config, gate)
        try:
            x_k, y_k, rate_k = _training_pairs(frames, label_start, label_end, train_state, config)
        except ValueError:
            if k == 0:
                raise
            break
        xs.append(x_k)
        ys.append(y_k)
        rates.append(rate_k)
    if not xs:
        raise ValueError("the history is shorter than one label window: cannot learn a ranker")
    x, y, rate = np.vstack(xs), np.concatenate(ys), float(np.mean(rates))
    common = {
        "max_iter": r.max_iter,
        "learning_rate": r.learning_rate,
        "max_leaf_nodes": r.max_leaf_nodes,
        "min_samples_leaf": r.min_samples_leaf,
        "l2_regularization": r.l2_regularization,
        "random_state": config.seed,
        "early_stopping": False,
    }
    from threadpoolctl import threadpool_limits

    pos = y > 0
    clf = HistGradientBoostingClassifier(**common)  # type: ignore[arg-type]
    reg = HistGradientBoostingRegressor(
        **{**common, "min_samples_leaf": max(5, min(r.min_samples_leaf, int(pos.sum()) // 10))}  # type: ignore[arg-type]
    )
    with threadpool_limits(r.threads, "openmp"):
        clf.fit(x, pos.astype(int))
        reg.fit(x[pos], np.log(y[pos]))
        resid = float(np.var(np.log(y[pos]) - reg.predict(x[pos])))
    state = build_state(frames, cutoff, config, gate)
    retrieval = Retrieval.fit(x, y, state)
    return MatchingModel(state, clf, reg, resid, rate, config, frames.skus, retrieval)


# -- recommendations -------------------------------------------------------------------------
@dataclass(frozen=True)
class Recommendation:
    """One influencer recommended to a brand, with the reasons in words."""

    brand_id: str
    sku_id: str | None
    rank: int
    account_id: str
    name: str
    expected_gmv: float
    gmv_if_cooperating: float
    p_cooperate: float
    trust_score: float | None
    reasons_en: str
    reasons_zh: str


@dataclass(frozen=True)
class RecommendationList:
    """The ranked list for one brand or SKU, and the top influencers the trust gate removed."""

    recommendations: list[Recommendation]
    gated: pd.DataFrame  # account_id, name, expected_gmv, trust_score, reason_en, reason_zh

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([r.__dict__ for r in self.recommendations])


def _reasons(
    row: Mapping[str, Any], state: MatchingState, pos: int, price: float | None
) -> tuple[str, str]:
    """Up to four plain-language reasons, strongest first."""
    en: list[str] = []
    zh: list[str] = []
    pct = state.percentiles
    if row["als_score"] > 0.05:
        en.append("brands with a cooperation history like yours sold well through it")
        zh.append("与您合作记录相似的品牌在该达人处卖得好")
    share = row["category_share"]
    if np.isfinite(share) and share >= 0.2:
        en.append(f"{share:.0%} of its GMV is in your category")
        zh.append(f"其 {share:.0%} 的GMV来自您的类目")
    elif row["category_match"] == 1:
        en.append("its main category is yours")
        zh.append("主营类目与您一致")
    i = state.infl
    lo = np.exp(i["log_price_mean"][pos] - i["log_price_sd"][pos])
    hi = np.exp(i["log_price_mean"][pos] + i["log_price_sd"][pos])
    if np.isfinite(lo) and row["price_gap"] == 0:
        p = f" ¥{price:,.0f}" if price is not None else ""
        en.append(f"its audience buys at ¥{lo:,.0f}–¥{hi:,.0f}, around your price{p}")
        zh.append(f"粉丝购买价格带 ¥{lo:,.0f}–¥{hi:,.0f}, 与您的价格{p}匹配")
    conv = row["orders_per_1k_viewers"]
    if np.isfinite(conv) and pct["orders_per_1k"][pos] >= 0.7:
        en.append(
            f"converts {conv:.1f} orders per 1,000 viewers (top {1 - pct['orders_per_1k'][pos]:.0%})"
        )
        zh.append(f"每千次观看成交 {conv:.1f} 单 (前 {1 - pct['orders_per_1k'][pos]:.0%})")
    growth = row["growth"]
    if np.isfinite(growth) and growth > np.log(1.2):
        en.append(f"viewers up {np.expm1(growth):.0%} in recent months")
        zh.append(f"近期观看人数增长 {np.expm1(growth):.0%}")
    if not en:
        en.append("predicted GMV from comparable cooperations")
        zh.append("根据相似合作预测的GMV")
    return "; ".join(en[:4]), "；".join(zh[:4])


def recommend(
    model: MatchingModel,
    brand_id: str,
    *,
    sku_id: str | None = None,
    top_k: int | None = None,
    show_gated: int = 5,
) -> RecommendationList:
    """The top influencers for a brand (or one of its SKUs) it has not worked with yet.

    Influencers the trust gate stops are never in the list; the best-scoring of them are
    returned in ``gated`` with the gate's reason, so the user sees why they are missing.
    """
    state = model.state
    if brand_id not in state.brand_ids:
        raise KeyError(f"unknown brand {brand_id!r}")
    price = category = None
    if sku_id is not None:
        skus = model.skus
        row = skus[skus.sku_id.astype(str) == sku_id]
        if row.empty:
            raise KeyError(f"unknown SKU {sku_id!r}")
        price, category = float(row["price"].iloc[0]), str(row["category"].iloc[0])
    k = top_k or model.config.top_k
    linear = (
        model.retrieval.score(state, brand_id, price=price, category=category)
        if model.retrieval is not None
        else None
    )
    cand = model.candidates(brand_id, price=price, category=category, linear=linear)
    trust = state.trust
    # The gate's casualties: new influencers that fail it, best predicted first. Only the few
    # best of them are shown: the linear stage picks which the trees score.
    blocked = ~trust["passes"].to_numpy(dtype=bool)
    blocked[state.partners.get(brand_id, np.array([], dtype=int))] = False
    blocked_pos = np.flatnonzero(blocked)
    n_gated = max(10 * show_gated, 50)
    if linear is not None and len(blocked_pos) > n_gated:
        keep = np.argpartition(-linear[blocked_pos], n_gated)[:n_gated]
        blocked_pos = blocked_pos[keep]
    # One pass of the trees over both sets: each pass has a fixed cost per tree.
    both = model.score(
        brand_id, price=price, category=category, rows=np.concatenate([cand, blocked_pos])
    )
    scores, g = both.iloc[: len(cand)], both.iloc[len(cand) :]
    order = np.argsort(-scores["expected_gmv"].to_numpy(), kind="stable")[:k]
    columns, values = list(scores.columns), scores.to_numpy()
    ref_price = price if price is not None else _brand_price(state, brand_id)
    recs = []
    for rank, j in enumerate(order, start=1):
        pos = int(cand[j])
        row = dict(zip(columns, values[j], strict=True))
        en, zh = _reasons(row, state, pos, ref_price)
        t = trust.iloc[pos]
        en += f"; {t['reason_en']}"
        zh += f"；{t['reason_zh']}"
        recs.append(
            Recommendation(
                brand_id=brand_id,
                sku_id=sku_id,
                rank=rank,
                account_id=str(state.influencer_ids[pos]),
                name=str(state.names[pos]),
                expected_gmv=round(float(row["expected_gmv"]), 2),
                gmv_if_cooperating=round(float(row["gmv_if_cooperating"]), 2),
                p_cooperate=float(row["p_cooperate"]),
                trust_score=None if pd.isna(t["trust_score"]) else float(t["trust_score"]),
                reasons_en=en,
                reasons_zh=zh,
            )
        )
    g_order = np.argsort(-g["expected_gmv"].to_numpy(), kind="stable")[:show_gated]
    gated_pos = blocked_pos[g_order]
    gated = pd.DataFrame(
        {
            "account_id": state.influencer_ids[gated_pos].astype(str),
            "name": state.names[gated_pos],
            "expected_gmv": g["expected_gmv"].to_numpy()[g_order],
            "trust_score": trust["trust_score"].iloc[gated_pos].to_numpy(),
            "reason_en": trust["reason_en"].iloc[gated_pos].to_numpy(),
            "reason_zh": trust["reason_zh"].iloc[gated_pos].to_numpy(),
        }
    )
    return RecommendationList(recs, gated)


def _brand_price(state: MatchingState, brand_id: str) -> float | None:
    v = float(np.exp(state.brand_log_price[state.brand_ids.get_loc(brand_id)]))
    return v if np.isfinite(v) else None


# -- offline evaluation ----------------------------------------------------------------------
def ndcg_at_k(ranked: Sequence[str], relevance: Mapping[str, float], k: int) -> float:
    """NDCG@k = DCG@k / ideal DCG@k, DCG = Σ_{r≤k} rel_r / log2(r + 1)."""
    gains = np.array([relevance.get(a, 0.0) for a in ranked[:k]])
    dcg = float((gains / np.log2(np.arange(2, len(gains) + 2))).sum())
    ideal = np.sort(np.array(list(relevance.values())))[::-1][:k]
    idcg = float((ideal / np.log2(np.arange(2, len(ideal) + 2))).sum())
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """Share of the relevant influencers found in the top k."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


@dataclass(frozen=True)
class RankingEvaluation:
    """NDCG@10 and recall@50 of the ranker and the two baselines over the same brands."""

    brands: int
    ndcg: dict[str, float]
    recall: dict[str, float]

    def lift(self, baseline: str) -> float:
        """Relative NDCG@10 lift of the ranker over ``baseline``."""
        return self.ndcg["ranker"] / self.ndcg[baseline] - 1 if self.ndcg[baseline] > 0 else np.inf


def evaluate_ranking(
    model: MatchingModel,
    held_out: pd.DataFrame,
    *,
    k: int = 10,
    recall_k: int = 50,
) -> RankingEvaluation:
    """Rank for every brand with new cooperations in ``held_out`` and score the rankings.

    The relevance of an influencer is log1p of the GMV of its held-out cooperation with the
    brand (0 when there was none); only influencers new to the brand count. Every method ranks
    the same candidates (not yet partners, passing the trust gate): the ranker by expected
    GMV, ``most_fans`` by followers, ``most_gmv`` by the influencer's GMV over the history.
    """
    state = model.state
    ids = state.influencer_ids
    held = held_out.groupby(["brand_id", "account_id"], as_index=False)["gmv"].sum()
    held = held[held.gmv > 0]
    by_fans = np.argsort(-state.infl["fans"], kind="stable")
    by_gmv = np.argsort(-state.infl["gmv"], kind="stable")
    ndcg: dict[str, list[float]] = {"ranker": [], "most_fans": [], "most_gmv": []}
    rec: dict[str, list[float]] = {"ranker": [], "most_fans": [], "most_gmv": []}
    for brand_id, grp in held.groupby("brand_id"):
        bid = str(brand_id)
        if bid not in state.brand_ids:
            continue
        eligible = model.eligible(bid)
        pos = ids.get_indexer(grp["account_id"].astype(str))
        keep = (pos >= 0) & eligible[np.clip(pos, 0, None)]
        if not keep.any():
            continue
        relevance = dict(
            zip(
                grp["account_id"].astype(str)[keep],
                np.log1p(grp["gmv"].to_numpy()[keep]),
                strict=True,
            )
        )
        rankings = {
            "ranker": model.rank_positions(bid)[:recall_k],
            "most_fans": by_fans[eligible[by_fans]][:recall_k],
            "most_gmv": by_gmv[eligible[by_gmv]][:recall_k],
        }
        for name, order in rankings.items():
            ranked = list(ids[order].astype(str))
            ndcg[name].append(ndcg_at_k(ranked, relevance, k))
            rec[name].append(recall_at_k(ranked, list(relevance), recall_k))
    return RankingEvaluation(
        brands=len(ndcg["ranker"]),
        ndcg={k_: float(np.mean(v)) if v else 0.0 for k_, v in ndcg.items()},
        recall={k_: float(np.mean(v)) if v else 0.0 for k_, v in rec.items()},
    )
