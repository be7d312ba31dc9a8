"""Recommendations: the ranked influencers for a brand or SKU, with their reasons, and the best
of those the trust gate removed.

Reasons are codes with parameters, never sentences: each recommendation carries the reason code
``influencers.recommended`` and JSON parameters holding its up to four signals (nested reasons
``influencers.<signal>``, strongest first) and the trust gate's own reason;
:func:`windmaker.i18n.reason_text` renders them in either language.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from windmaker.models.matching.features import MatchingState
from windmaker.models.matching.ranker import MatchingModel


@dataclass(frozen=True)
class Recommendation:
    """One influencer recommended to a brand, with its reason code and parameters (JSON)."""

    brand_id: str
    sku_id: str | None
    rank: int
    account_id: str
    name: str
    expected_gmv: float
    gmv_if_cooperating: float
    p_cooperate: float
    trust_score: float | None
    reason_code: str
    reason_params: str


#: The reason code of every recommendation: its signals and the trust gate's reason.
RECOMMENDED = "influencers.recommended"


@dataclass(frozen=True)
class RecommendationList:
    """The ranked list for one brand or SKU, and the top influencers the trust gate removed."""

    recommendations: list[Recommendation]
    gated: pd.DataFrame  # account_id, name, expected_gmv, trust_score, reason_code, reason_params

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([r.__dict__ for r in self.recommendations])


def _reason(code: str, **params: object) -> dict[str, object]:
    """A nested reason, as :func:`windmaker.i18n.reason_text` reads it from the parameters."""
    return {"reason": f"influencers.{code}", "params": params}


def _reasons(
    row: Mapping[str, Any], state: MatchingState, pos: int, price: float | None
) -> list[dict[str, object]]:
    """Up to four reasons (code and numbers), strongest first."""
    out: list[dict[str, object]] = []
    pct = state.percentiles
    if row["als_score"] > 0.05:
        out.append(_reason("similar_brands"))
    share = row["category_share"]
    if np.isfinite(share) and share >= 0.2:
        out.append(_reason("category_share", share=float(share)))
    elif row["category_match"] == 1:
        out.append(_reason("category_match"))
    i = state.infl
    lo = np.exp(i["log_price_mean"][pos] - i["log_price_sd"][pos])
    hi = np.exp(i["log_price_mean"][pos] + i["log_price_sd"][pos])
    if np.isfinite(lo) and row["price_gap"] == 0:
        band = {"lo": float(lo), "hi": float(hi)}
        if price is not None:
            out.append(_reason("price_band_at", price=float(price), **band))
        else:
            out.append(_reason("price_band", **band))
    conv = row["orders_per_1k_viewers"]
    if np.isfinite(conv) and pct["orders_per_1k"][pos] >= 0.7:
        top = 1 - float(pct["orders_per_1k"][pos])
        out.append(_reason("conversion", orders=float(conv), top=top))
    growth = row["growth"]
    if np.isfinite(growth) and growth > np.log(1.2):
        out.append(_reason("growth", growth=float(np.expm1(growth))))
    if not out:
        out.append(_reason("predicted"))
    return out[:4]


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
        t = trust.iloc[pos]
        params = {
            "reasons": _reasons(row, state, pos, ref_price),
            "trust": {"reason": t["reason_code"], "params": json.loads(t["reason_params"])},
            "profile": _profile(state, pos, row, model.config.history_months),
        }
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
                reason_code=RECOMMENDED,
                reason_params=json.dumps(params),
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
            "reason_code": trust["reason_code"].iloc[gated_pos].to_numpy(),
            "reason_params": trust["reason_params"].iloc[gated_pos].to_numpy(),
        }
    )
    return RecommendationList(recs, gated)


def _finite(value: object) -> float | None:
    v = float(value)  # type: ignore[arg-type]
    return v if np.isfinite(v) else None


def _profile(
    state: MatchingState, pos: int, row: Mapping[str, Any], months: int
) -> dict[str, object]:
    """The influencer's profile as of the cutoff, for the page's influencer cards: main
    category (code), fans, audience price band (yuan), orders per 1,000 viewers, GMV over the
    signals' window of ``months``, recent growth of viewers (a ratio − 1), share of its GMV in the brand's
    category and its percentile among all influencers on conversion, fans and GMV (0–1)."""
    i, pct = state.infl, state.percentiles
    code = int(i["category_code"][pos])
    return {
        "category": str(state.categories[code]) if code >= 0 else None,
        "fans": _finite(i["fans"][pos]),
        "price_lo": _finite(np.exp(i["log_price_mean"][pos] - i["log_price_sd"][pos])),
        "price_hi": _finite(np.exp(i["log_price_mean"][pos] + i["log_price_sd"][pos])),
        "orders_per_1k": _finite(i["orders_per_1k"][pos]),
        "gmv": _finite(i["gmv"][pos]),
        "months": months,
        "growth": _finite(np.expm1(row["growth"])),
        "category_share": _finite(row["category_share"]),
        "similar_brands": bool(row["als_score"] > 0.05),
        "top_conversion": _finite(pct["orders_per_1k"][pos]),
        "top_fans": _finite(pct["fans"][pos]),
        "top_gmv": _finite(pct["gmv"][pos]),
    }


def _brand_price(state: MatchingState, brand_id: str) -> float | None:
    v = float(np.exp(state.brand_log_price[state.brand_ids.get_loc(brand_id)]))
    return v if np.isfinite(v) else None
