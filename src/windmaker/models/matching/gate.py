"""The trust gate (信任电商): which influencers may be recommended at all, and why not.

An influencer below the trust threshold is never recommended; the gate's reason is reported
instead, as a reason code (``influencers.trust_*``) with its numbers in JSON parameters, which
:func:`windmaker.i18n.reason_text` renders in either language.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from windmaker.models.matching.config import TrustGateConfig

if TYPE_CHECKING:
    from windmaker.models.trust import TrustConfig

#: Reason codes of the gate: no score for lack of orders, scored and passing, scored and below.
TRUST_INSUFFICIENT = "influencers.trust_insufficient"
TRUST_NONE = "influencers.trust_none"
TRUST_SCORE = "influencers.trust_score"
TRUST_BELOW = "influencers.trust_below"
TRUST_BELOW_PROXY = "influencers.trust_below_proxy"
TRUST_BELOW_MODULE = "influencers.trust_below_module"
TRUST_BELOW_MODULE_NO_DATA = "influencers.trust_below_module_no_data"


def _frame(
    account_ids: pd.Index,
    score: object,
    passes: object,
    reasons: list[tuple[str, dict[str, object]]],
) -> pd.DataFrame:
    """The gate's answer: one row per account with its score, verdict and reason."""
    return pd.DataFrame(
        {
            "trust_score": score,
            "passes": passes,
            "reason_code": [code for code, _ in reasons],
            "reason_params": [json.dumps(params) for _, params in reasons],
        },
        index=account_ids,
    )


class TrustGate(Protocol):
    """Anything that scores influencers' trust and says who may be recommended.

    ``assess`` returns one row per account_id given: ``trust_score`` (0–100, NaN when the data is
    insufficient), ``passes`` (bool), ``reason_code`` and ``reason_params`` (JSON): why.
    """

    def assess(self, account_ids: pd.Index, months: pd.DataFrame) -> pd.DataFrame: ...


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
        reasons: list[tuple[str, dict[str, object]]] = []
        for ok, s, rr, cp, e in zip(passes, score, refund_rate, per_1k, enough, strict=True):
            if not e:
                reasons.append((TRUST_INSUFFICIENT, {}))
            elif ok:
                reasons.append((TRUST_SCORE, {"score": float(s)}))
            else:
                reasons.append(
                    (
                        TRUST_BELOW_PROXY,
                        {
                            "score": float(s),
                            "threshold": float(c.threshold),
                            "refund_rate": float(rr),
                            "complaints": float(cp),
                        },
                    )
                )
        return _frame(account_ids, np.where(enough, score, np.nan), passes.astype(bool), reasons)


@dataclass(frozen=True)
class ScoreTableTrustGate:
    """Gate on trust scores computed elsewhere (a table of account_id, trust_score 0–100)."""

    scores: pd.DataFrame
    threshold: float = 60.0

    def assess(self, account_ids: pd.Index, months: pd.DataFrame) -> pd.DataFrame:
        s = self.scores.set_index("account_id")["trust_score"].astype("float64")
        s = s[~s.index.duplicated(keep="last")].reindex(account_ids)
        passes = s.isna() | (s >= self.threshold)
        reasons: list[tuple[str, dict[str, object]]] = [
            (TRUST_NONE, {})
            if pd.isna(v)
            else (
                (TRUST_SCORE, {"score": float(v)})
                if ok
                else (TRUST_BELOW, {"score": float(v), "threshold": float(self.threshold)})
            )
            for v, ok in zip(s, passes, strict=True)
        ]
        return _frame(account_ids, s.to_numpy(), passes.to_numpy(), reasons)


@dataclass(frozen=True)
class TrustModuleGate:
    """Gate on the trust module's scores (``mdl_trust_scores``) and its ``is_trusted`` rule.

    Each account's latest scored period before the matching cutoff is used; the reason names
    the score, the threshold and the component that cost the most points. ``config`` is the
    trust configuration the scores were made with (the shipped one when left out).
    """

    scores: pd.DataFrame
    cutoff: pd.Timestamp | None = None
    config: TrustConfig | None = None

    def assess(self, account_ids: pd.Index, months: pd.DataFrame) -> pd.DataFrame:
        from windmaker.models import trust

        config = self.config or trust.load_config()
        acc = self.scores[self.scores["entity"] == "account"].copy()
        acc["period"] = pd.to_datetime(acc["period"])
        if self.cutoff is not None:
            acc = acc[acc["period"] < self.cutoff]
        latest = acc.sort_values("period").groupby("entity_id").last().reindex(account_ids)
        threshold = config.gates.account_exclude_below
        score, passes = [], []
        reasons: list[tuple[str, dict[str, object]]] = []
        for _, row in latest.iterrows():
            status = row["status"] if isinstance(row["status"], str) else trust.STATUS_INSUFFICIENT
            s = None if pd.isna(row["score"]) else float(row["score"])
            ok = trust.is_trusted(s, status, config.gates)
            score.append(np.nan if s is None else s)
            passes.append(ok)
            if s is None:
                reasons.append((TRUST_INSUFFICIENT, {}))
            elif ok:
                reasons.append((TRUST_SCORE, {"score": s}))
            else:
                k, _, value, ref, lost = trust.explain(row, config.score)[0]
                params: dict[str, object] = {
                    "score": s,
                    "threshold": float(threshold),
                    "component": {"name": "metric", "code": k},
                    "ref": ref,
                    "lost": lost,
                }
                if np.isfinite(value):
                    reasons.append((TRUST_BELOW_MODULE, {**params, "value": value}))
                else:
                    reasons.append((TRUST_BELOW_MODULE_NO_DATA, params))
        return _frame(account_ids, score, passes, reasons)
