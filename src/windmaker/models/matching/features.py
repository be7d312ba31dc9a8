"""The candidate signals as of one cutoff: every influencer's own features and the pair features
of a brand or SKU, as arrays aligned on the influencers (fast to score).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from windmaker.models.matching.als import fit_als
from windmaker.models.matching.config import MatchingConfig
from windmaker.models.matching.gate import ProxyTrustGate, TrustGate
from windmaker.models.matching.sources import MatchingFrames

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


#: Features that change with the brand or SKU (the rest are the influencer's own).
PAIR_FEATURES = (0, 1, 2, 3, 4, 5)


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
