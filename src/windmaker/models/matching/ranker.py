"""The learned ranker: a linear retrieval stage and a histogram gradient boosting hurdle model
("a cooperation happens", then log GMV given it happens), trained on a time split of the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from windmaker.models.matching.config import MatchingConfig
from windmaker.models.matching.features import FEATURES, PAIR_FEATURES, MatchingState, build_state
from windmaker.models.matching.gate import TrustGate
from windmaker.models.matching.sources import MatchingFrames

_CONTROLLER: list[object] = []


def _openmp() -> Any:
    """One threadpool controller for the process: finding the libraries costs milliseconds."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


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
