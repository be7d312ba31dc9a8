"""The matrix-account horse race (矩阵号赛马): which of a brand's own accounts to scale or stop.

Each of a brand's own accounts (main and matrix) is compared on two rates, each shrunk toward
the brand's mean by empirical Bayes so that an account with few weeks is not crowned on luck:

- **GMV per live hour**: weekly ``y_aw = ln(GMV_aw / hours_aw)``; ``y_aw ~ N(θ_a, σ²)``,
  ``θ_a ~ N(μ, τ²)``. σ² is the pooled within-account variance, τ² the method-of-moments
  between-account variance ``max(Var(ȳ_a) − mean(σ²/n_a), τ²_min)``, μ the precision-weighted
  mean; the posterior is ``θ_a ~ N(m_a, v_a)`` with ``v_a = 1/(n_a/σ² + 1/τ²)``,
  ``m_a = v_a(n_a ȳ_a/σ² + μ/τ²)``.
- **Conversion** (orders per viewer): ``orders ~ Binomial(viewers, p_a)``, ``p_a ~ Beta(a, b)``
  fitted to the brand's accounts by moments; posterior ``Beta(a + orders, b + viewers − orders)``.

The probability that each account is the best is the share of Monte Carlo draws from the joint
posterior in which it has the highest rate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import ibis
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from windmaker import contract


class HorseRaceConfig(BaseModel):
    """Thresholds of the horse race."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weeks: int = Field(default=12, ge=2, description="weeks of sessions compared")
    kinds: tuple[str, ...] = Field(
        default=("brand_matrix",),
        description="account kinds in the race (the main account is the brand's anchor, "
        "not a contestant, unless listed)",
    )
    min_weeks: int = Field(default=2, ge=1, description="weeks live before an account is compared")
    min_accounts: int = Field(default=2, ge=2)
    draws: int = Field(default=4000, ge=100, description="Monte Carlo draws for P(best)")
    min_between_sd: float = Field(default=0.05, gt=0, description="floor of τ on the log scale")
    scale_probability: float = Field(
        default=0.5, gt=0, le=1, description="P(best) to scale an account"
    )
    stop_probability: float = Field(
        default=0.9, gt=0, le=1, description="P(below the brand's mean) to stop a matrix account"
    )
    seed: int = 11


def account_week_expression(tables: Mapping[str, ibis.Table]) -> ibis.Table:
    """Per brand-owned account and week: live hours, viewers, orders, GMV.

    Columns: brand_id, account_id, kind, week (DATE, Monday), live_hours, viewers, orders, gmv.
    """
    accounts = tables[contract.ACCOUNTS.name]
    sessions, orders = tables[contract.LIVE_SESSIONS.name], tables[contract.ORDERS.name]
    own = accounts.filter(accounts.kind.isin(contract.SELF_ACCOUNT_KINDS)).select(
        "account_id", "brand_id", "kind"
    )
    s = sessions.join(own.select("account_id"), "account_id")
    seconds = (s.ended_at.epoch_seconds() - s.started_at.epoch_seconds()).cast("float64")
    s = s.mutate(week=s.started_at.truncate("W").cast("date"), hours=seconds / 3600)
    live = s.group_by(["account_id", "week"]).aggregate(
        live_hours=s.hours.sum(), viewers=s.viewers.cast("float64").sum()
    )
    # only the brand's own goods: another brand's order sold on the account is no one's
    # self-operation
    o = orders.filter(orders.status != contract.ORDER_STATUSES[4]).join(
        own.select("account_id", "brand_id"), ["account_id", "brand_id"]
    )
    o = o.mutate(
        week=o.paid_at.truncate("W").cast("date"),
        net=(o.amount - o.refund_amount.fill_null(0)).cast("float64"),
    )
    sales = o.group_by(["account_id", "week"]).aggregate(orders=o.count(), gmv=o.net.sum())
    j = live.left_join(sales, ["account_id", "week"]).join(own, "account_id")
    return j.select(
        "brand_id",
        "account_id",
        "kind",
        "week",
        "live_hours",
        "viewers",
        orders=j.orders.fill_null(0),
        gmv=j.gmv.fill_null(0.0),
    )


def _normal_shrinkage(
    ybar: np.ndarray, n: np.ndarray, sigma2: float, tau_floor: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Posterior means and variances of θ_a under N(μ, τ²) with known σ²; returns (m, v, μ)."""
    se2 = sigma2 / n
    tau2 = max(float(np.var(ybar, ddof=1)) - float(np.mean(se2)), tau_floor**2)
    w = 1 / (se2 + tau2)
    mu = float((w * ybar).sum() / w.sum())
    v = 1 / (n / sigma2 + 1 / tau2)
    m = v * (n * ybar / sigma2 + mu / tau2)
    return m, v, mu


def _beta_prior(orders: np.ndarray, viewers: np.ndarray) -> tuple[float, float]:
    """Beta(a, b) by moments over the accounts' conversion rates, with a weak-prior fallback."""
    rates = orders / np.maximum(viewers, 1)
    mean = float(orders.sum() / max(viewers.sum(), 1))
    mean = min(max(mean, 1e-6), 1 - 1e-6)
    var = float(np.var(rates, ddof=1)) - float(np.mean(mean * (1 - mean) / np.maximum(viewers, 1)))
    strength = mean * (1 - mean) / var - 1 if var > 0 else 1e6
    strength = float(np.clip(strength, 2.0, 1e6))
    return mean * strength, (1 - mean) * strength


def race(weeks: pd.DataFrame, config: HorseRaceConfig | None = None) -> pd.DataFrame:
    """The horse race of every brand with at least ``min_accounts`` live accounts.

    ``weeks`` holds :func:`account_week_expression` rows (already limited to the weeks to
    compare). Returns one row per account: weeks, live_hours, gmv_per_live_hour (raw),
    gmv_per_live_hour_shrunk (exp of the posterior mean), conversion, conversion_shrunk,
    p_best (GMV per live hour), p_best_conversion, p_below_mean, decision (scale / keep / stop),
    reason_code (``horse_race.<decision>``) and reason_params (JSON: the facts it cites).
    """
    c = config or HorseRaceConfig()
    rng = np.random.default_rng(c.seed)
    w = weeks[(weeks.live_hours > 0) & weeks["kind"].isin(c.kinds)].copy()
    w["y"] = np.log(np.maximum(w["gmv"].astype(float), 1.0) / w["live_hours"].astype(float))
    per = w.groupby(["brand_id", "account_id", "kind"], as_index=False).agg(
        weeks=("week", "nunique"),
        live_hours=("live_hours", "sum"),
        gmv=("gmv", "sum"),
        orders=("orders", "sum"),
        viewers=("viewers", "sum"),
        ybar=("y", "mean"),
    )
    per = per[per.weeks >= c.min_weeks]
    dev = w.merge(per[["account_id", "ybar"]], on="account_id")
    resid = dev["y"] - dev["ybar"]
    dof = len(dev) - len(per)
    pooled_sigma2 = float((resid**2).sum() / dof) if dof > 0 else 1.0
    out = []
    for _brand, grp in per.groupby("brand_id"):
        if len(grp) < c.min_accounts:
            continue
        g = grp.reset_index(drop=True)
        n = g["weeks"].to_numpy(dtype=float)
        m, v, mu = _normal_shrinkage(g["ybar"].to_numpy(), n, pooled_sigma2, c.min_between_sd)
        theta = rng.normal(m, np.sqrt(v), size=(c.draws, len(g)))
        p_best = np.bincount(theta.argmax(axis=1), minlength=len(g)) / c.draws
        p_below = (theta < mu).mean(axis=0)
        orders = g["orders"].to_numpy(dtype=float)
        viewers = g["viewers"].to_numpy(dtype=float)
        a, b = _beta_prior(orders, viewers)
        a1, b1 = a + orders, b + np.maximum(viewers - orders, 0)
        conv = rng.beta(a1, b1, size=(c.draws, len(g)))
        g["gmv_per_live_hour"] = g["gmv"] / g["live_hours"]
        # The shrinkage moves the log rate from ȳ_a to m_a; apply the same factor to the raw rate.
        g["gmv_per_live_hour_shrunk"] = g["gmv_per_live_hour"] * np.exp(m - g["ybar"].to_numpy())
        g["conversion"] = orders / np.maximum(viewers, 1)
        g["conversion_shrunk"] = a1 / (a1 + b1)
        g["p_best"] = p_best
        g["p_best_conversion"] = np.bincount(conv.argmax(axis=1), minlength=len(g)) / c.draws
        g["p_below_mean"] = p_below
        out.append(g)
    if not out:
        return pd.DataFrame(
            columns=[*per.columns, "p_best", "decision", "reason_code", "reason_params"]
        )
    res = pd.concat(out, ignore_index=True).drop(columns=["ybar"])
    decision = np.where(
        res["p_best"] >= c.scale_probability,
        "scale",
        np.where(
            (res["p_below_mean"] >= c.stop_probability)
            & (res["kind"] == contract.SELF_ACCOUNT_KINDS[1]),
            "stop",
            "keep",
        ),
    )
    res["decision"] = decision
    res["reason_code"] = np.char.add("horse_race.", decision.astype(str)).astype(object)
    res["reason_params"] = [
        json.dumps(
            {
                "facts": {
                    "reason": "horse_race.facts",
                    "params": {
                        "shrunk": float(r.gmv_per_live_hour_shrunk),
                        "raw": float(r.gmv_per_live_hour),
                        "weeks": int(r.weeks),
                        "p_best": float(r.p_best),
                    },
                },
                "p_below": float(r.p_below_mean),
            }
        )
        for r in res.itertuples()
    ]
    return res


def most_likely_best(result: pd.DataFrame) -> pd.Series:
    """Per brand, the account with the highest P(best)."""
    idx = result.groupby("brand_id")["p_best"].idxmax()
    return result.loc[idx].set_index("brand_id")["account_id"]
