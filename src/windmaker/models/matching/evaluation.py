"""Offline evaluation of the ranking: NDCG@k and recall@k against the baselines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from windmaker.models.matching.ranker import MatchingModel


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
