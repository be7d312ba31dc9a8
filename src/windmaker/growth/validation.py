"""Agreement of a diagnosis with planted truth (the simulator's ``truth/brand_month.parquet``).

Which brand-months are judged, exactly:

- a brand's first ``warmup_periods`` periods in the data are left out: its trailing windows
  (90-day GMV, months with sales) are still filling, so no method could see its stage
  (counted in the truth's months, so months the diagnosis leaves unjudged for insufficient
  history count too; brand-months without a diagnosed stage are not judged);
- a brand-month is left out when the true stage changed within the last ``settle_periods``
  months (the month of the change included): the trailing-90-day size criterion needs up to
  two months to show a step and the hysteresis two more periods to confirm it, so those months
  measure the lag the method is designed to have, not its accuracy.

Stage agreement is the share of judged brand-months whose diagnosed stage equals the true one;
bottleneck agreement the share whose rank-1 capability equals the true bottleneck.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Agreement:
    """Agreement figures of one diagnosis against the truth."""

    brand_months: int
    judged: int
    stage: float
    bottleneck: float
    stage_by_true_stage: dict[str, float] = field(default_factory=dict)
    bottleneck_by_true_stage: dict[str, float] = field(default_factory=dict)
    warmup_periods: int = 3
    settle_periods: int = 3

    def markdown(self) -> str:
        lines = [
            f"- brand-months: {self.brand_months:,}; judged: {self.judged:,} "
            f"(first {self.warmup_periods} months of each brand and {self.settle_periods} "
            "months from each true stage change left out)",
            f"- stage agreement: **{self.stage:.1%}**",
            f"- bottleneck agreement: **{self.bottleneck:.1%}**",
            "",
            "| true stage | stage agreement | bottleneck agreement |",
            "|---|---|---|",
        ]
        for s, v in self.stage_by_true_stage.items():
            b = self.bottleneck_by_true_stage.get(s, float("nan"))
            lines.append(f"| {s} | {v:.1%} | {b:.1%} |")
        return "\n".join(lines)


def judged_truth(
    truth: pd.DataFrame, periods: pd.DataFrame, warmup_periods: int, settle_periods: int
) -> pd.DataFrame:
    """The truth rows that are judged (see the module docstring), keyed by brand_id, period.

    ``truth``: brand_id, month, stage, bottleneck. ``periods``: brand_id, period of the
    diagnosis (to find each brand's first periods in the data).
    """
    t = truth[["brand_id", "month", "stage", "bottleneck"]].rename(
        columns={"month": "period", "stage": "true_stage", "bottleneck": "true_bottleneck"}
    )
    t["period"] = pd.to_datetime(t["period"]).astype("datetime64[s]")
    t = t.sort_values(["brand_id", "period"], kind="stable").reset_index(drop=True)
    same = t["brand_id"].eq(t["brand_id"].shift())
    changed = same & t["true_stage"].ne(t["true_stage"].shift())
    spell = changed.groupby(t["brand_id"]).cumsum()
    since = t.groupby([t["brand_id"], spell]).cumcount()
    t["_settled"] = (spell == 0) | (since >= settle_periods)

    t["position"] = t.groupby("brand_id").cumcount()
    p = periods[["brand_id", "period"]].copy()
    p["period"] = pd.to_datetime(p["period"]).astype("datetime64[s]")
    t = t.merge(p, on=["brand_id", "period"], how="inner")
    keep = t["_settled"] & (t["position"] >= warmup_periods)
    return t.loc[keep].drop(columns="_settled").reset_index(drop=True)


def agreement(
    stages: pd.DataFrame,
    bottlenecks: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    warmup_periods: int = 3,
    settle_periods: int = 3,
) -> Agreement:
    """Stage and bottleneck agreement of ``g_stage`` / ``g_bottleneck`` with the truth."""
    s = stages[["brand_id", "period", "stage"]].copy()
    s["period"] = pd.to_datetime(s["period"]).astype("datetime64[s]")
    b = bottlenecks.loc[bottlenecks["rank"] == 1, ["brand_id", "period", "capability"]].copy()
    b["period"] = pd.to_datetime(b["period"]).astype("datetime64[s]")
    t = truth.copy()
    t["month"] = pd.to_datetime(t["month"]).astype("datetime64[s]")
    # the months of the diagnosed data (the truth may know a month the data does not reach)
    t = t[(t["month"] >= s["period"].min()) & (t["month"] <= s["period"].max())]
    t = t[t["brand_id"].isin(set(s["brand_id"]))]
    judged = judged_truth(t, s, warmup_periods, settle_periods)
    j = judged.merge(s, on=["brand_id", "period"]).merge(b, on=["brand_id", "period"], how="left")
    stage_ok = j["stage"].astype(str) == j["true_stage"].astype(str)
    bott_ok = j["capability"].astype(str) == j["true_bottleneck"].astype(str)
    by = j["true_stage"].astype(str)
    return Agreement(
        brand_months=len(t),
        judged=len(j),
        stage=float(stage_ok.mean()) if len(j) else float("nan"),
        bottleneck=float(bott_ok.mean()) if len(j) else float("nan"),
        stage_by_true_stage={k: float(v) for k, v in stage_ok.groupby(by).mean().items()},
        bottleneck_by_true_stage={k: float(v) for k, v in bott_ok.groupby(by).mean().items()},
        warmup_periods=warmup_periods,
        settle_periods=settle_periods,
    )
