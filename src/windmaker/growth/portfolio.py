"""The operator portfolio (小二工作台): every brand ranked by what needs attention, with GMV at stake.

Attentions per brand × period (thresholds in ``ladder.yaml`` → ``portfolio``), where ``Δw`` is
the relative change of ``net_gmv_t90d`` over ``w`` periods (``gmv_t / gmv_{t−w} − 1``):

- ``trust_alert``: the brand is listed in ``mdl_trust_alerts`` (for that period when the table
  has one, else for the latest period);
- ``falling``: demoted this period, or ``Δ(gmv_window_periods) ≤ falling_gmv_change``;
- ``ready``: meets the next stage's criteria but awaits confirmation (hysteresis);
- ``stalled``: below SKA, the same stage for at least ``stalled_after_periods`` periods and
  ``|Δ(stalled_after_periods − 1)| ≤ flat_gmv_change`` (flat from the first period of the
  stall to this one);
- ``ok``: none of these.

When several apply, ``attention_order`` decides.

**GMV at stake** is the 90-day net GMV (``net_gmv_t90d``) the brand stands to lose, or not to
gain, over the next 90 days if nothing changes. One rule per attention:

- ``trust_alert``: its whole ``net_gmv_t90d``. Trust is the base of the method: a brand under an
  alert is flagged on every page and never recommended, so all of its GMV is exposed.
- ``falling``: the loss of the last ``gmv_window_periods`` repeated at the same pace,
  ``max(0, gmv_{t−w} − gmv_t)``. A brand demoted while its GMV held loses a stage, not GMV: ¥0.
- ``ready`` and ``stalled``: the gap to the brands one stage up,
  ``max(0, median net_gmv_t90d of the next stage − own)``, the median taken over the brand's
  category and period, or over every category of the period when its category has no brand at
  the next stage. A brand already selling like them has ¥0 at stake.
- ``ok``: ¥0.

Priority 1 is the largest ``weight(attention) × gmv_at_stake`` of the period; ``ok`` brands
follow, largest GMV first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from windmaker.codes import Attention
from windmaker.growth.config import FLAGGED_ATTENTIONS, LadderConfig
from windmaker.growth.ladder import SKA, STAGE_CODES

#: Attentions whose GMV at stake is the gap to the next stage's median (what is not gained).
UPSIDE = (Attention.READY, Attention.STALLED)


def _change(gmv: pd.Series, brand: pd.Series, window: int) -> pd.Series:
    before = gmv.groupby(brand, sort=False).shift(window)
    return gmv / before.where(before > 0) - 1


def attention_table(
    classified: pd.DataFrame, config: LadderConfig, trust_alerts: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The ``g_portfolio`` table.

    ``classified``: brand_id, category, period, stage, candidate (ordinals), net_gmv_t90d,
    sorted by brand and period. ``trust_alerts``: brand_id and optionally period.
    Returns brand_id, category, period, stage, attention, gmv_at_stake, priority, and the
    flags behind the attention (is_trust_alert, is_falling, is_ready, is_stalled).
    """
    rules = config.portfolio
    df = classified[
        ["brand_id", "category", "period", "stage", "candidate", "net_gmv_t90d"]
    ].reset_index(drop=True)
    gmv = df["net_gmv_t90d"].astype("float64")
    brand = df["brand_id"]
    lost = (gmv.groupby(brand, sort=False).shift(rules.gmv_window_periods) - gmv).clip(lower=0)
    prev_stage = df["stage"].groupby(brand, sort=False).shift()
    demoted = (df["stage"] < prev_stage).fillna(False).astype(bool)
    falling_gmv = _change(gmv, brand, rules.gmv_window_periods) <= rules.falling_gmv_change
    df["is_falling"] = demoted | falling_gmv.fillna(False).astype(bool)
    df["is_ready"] = df["candidate"] > df["stage"]

    changed = df["brand_id"].ne(df["brand_id"].shift()) | df["stage"].ne(prev_stage)
    held_for = df.groupby(changed.cumsum(), sort=False).cumcount() + 1
    # flat across the stall: from its first period to this one (N − 1 steps)
    span = max(rules.stalled_after_periods - 1, 1)
    flat = _change(gmv, brand, span).abs() <= rules.flat_gmv_change
    df["is_stalled"] = (
        (df["stage"] < SKA)
        & (held_for >= rules.stalled_after_periods)
        & flat.fillna(False).astype(bool)
        & ~df["is_ready"]
    )
    df["is_trust_alert"] = _trust_flags(df, trust_alerts)

    flags = {str(a): df[f"is_{a}"].to_numpy() for a in FLAGGED_ATTENTIONS}
    # plain strings in the table: the stored codes, not enum members
    order = [str(a) for a in rules.attention_order]
    df["attention"] = np.select([flags[a] for a in order], order, default=Attention.OK.value)

    upside = (_next_stage_median(df) - gmv).clip(lower=0).fillna(0)
    att = df["attention"]
    df["gmv_at_stake"] = np.select(
        [
            att.eq(Attention.TRUST_ALERT.value),
            att.eq(Attention.FALLING.value),
            att.isin([a.value for a in UPSIDE]),
        ],
        [gmv.fillna(0).clip(lower=0), lost.fillna(0), upside],
        default=0.0,
    ).round(2)
    weights: dict[str, float] = {str(k): v for k, v in rules.weights.items()}
    weights[Attention.OK.value] = 0.0
    weight = att.map(weights).astype("float64")
    score = weight * df["gmv_at_stake"]
    df["_ok"] = att.eq(Attention.OK.value)
    df["_score"] = np.where(df["_ok"], gmv.fillna(0), score)
    df = df.sort_values(["period", "_ok", "_score"], ascending=[True, True, False], kind="stable")
    df["priority"] = df.groupby("period", sort=False).cumcount().astype("int64") + 1
    df["stage"] = np.asarray(STAGE_CODES, dtype=object)[df["stage"].to_numpy()]
    return df[
        [
            "brand_id",
            "category",
            "period",
            "stage",
            "attention",
            "gmv_at_stake",
            "priority",
            "is_trust_alert",
            "is_falling",
            "is_ready",
            "is_stalled",
        ]
    ].reset_index(drop=True)


def _next_stage_median(df: pd.DataFrame) -> pd.Series:
    """Median ``net_gmv_t90d`` of brands one stage up in the same category and period, else in
    every category of the period (NaN at SKA, or when no brand of the period is one stage up)."""
    up = df.assign(stage=df["stage"] - 1)
    keys = ["category", "period", "stage"]
    by_category = up.groupby(keys, sort=False)["net_gmv_t90d"].median().rename("cat_median")
    overall = up.groupby(["period", "stage"], sort=False)["net_gmv_t90d"].median()
    out = (
        df[keys]
        .merge(by_category.reset_index(), on=keys, how="left")
        .merge(overall.rename("all_median").reset_index(), on=["period", "stage"], how="left")
    )
    median = out["cat_median"].astype("float64").fillna(out["all_median"].astype("float64"))
    return pd.Series(median.to_numpy(), index=df.index)


def _trust_flags(df: pd.DataFrame, alerts: pd.DataFrame | None) -> pd.Series:
    if alerts is None or "brand_id" not in alerts.columns:
        return pd.Series(False, index=df.index)
    alerts = alerts.dropna(subset=["brand_id"])
    if alerts.empty:
        return pd.Series(False, index=df.index)
    if "period" in alerts.columns:
        keys = alerts[["brand_id", "period"]].drop_duplicates()
        keys["period"] = pd.to_datetime(keys["period"]).astype(df["period"].dtype)
        hit = df[["brand_id", "period"]].merge(keys.assign(_hit=True), how="left")["_hit"]
        return pd.Series(hit.fillna(False).astype(bool).to_numpy(), index=df.index)
    latest = df["period"] == df["period"].max()
    return latest & df["brand_id"].isin(alerts["brand_id"])
