"""Evaluation of providers, one period (a month) at a time, from warehouse frames.

For period ``P`` (a month):

- **gmv_served** = Σ net GMV in ``P`` of the brands the provider served during ``P``;
  **annual_gmv_served** the same over the 12 months ending with ``P`` (brand-months served).
- **client growth** of brand ``b`` = its log-GMV trend per month over the ``growth_months``
  months ending with ``P`` while the provider served it (the pooled within-stage OLS slope of
  ln GMV on the month, so a jump from one ladder stage to the next is not counted as growth; at
  least ``min_months`` months); its **uplift** = growth − median growth of its comparable
  unserved brands (served by nobody in the window; same category and stage at the start of the
  window, widening to the same stage, the same category, then all when fewer than
  ``peer_count``; the ``peer_count`` nearest in ln mean monthly GMV). **client_uplift** = mean
  uplift over the provider's clients. A brand's launch ramp (its first ``ramp_months`` months
  from its first sale, when that comes after the first month of data) is left out of every
  trend: ramping up is not growth. A month-on-month step of ln GMV beyond ``level_shift_log``
  starts a new segment too: a ladder jump shows in GMV months before the stage (with its
  hysteresis) confirms it.
- **client_uplift_year**: the same over the ``trend_months`` months ending with ``P``, as
  Σ wᵢ·upliftᵢ / Σ wᵢ with wᵢ = Σ(t − t̄)² of client i's months (the slope's precision up to
  the noise variance): month noise of ~10 % leaves a 6-month trend uncertain by ±3 %/month, a
  12-month one by ±1 %.
- **capability_uplift**: a provider works on the capabilities it declares, so for each client
  and each declared capability, the trend per month of the brand's capability index
  (``m_capability``) over the ``capability_months`` months ending with ``P`` while served
  (pooled within-stage slope, as for GMV) minus the median trend of the same capability among
  comparable unserved brands; averaged over the provider's clients and capabilities with the
  same precision weights.
- **stage_advancement_rate** = share of those clients whose stage at ``P`` is above their stage
  at ``P−L`` (ladder order zero_breaking < climbing < ka < ska).
- **client_retention** = share of brands served on the first day of ``W1`` still served at the
  end of ``P``.
- **trust_violations_per_client** = violations of clients in ``P`` / clients in ``P``; a violation
  of a kind listed in ``severe_violation_kinds`` (fraud) is severe.
- **action_completion** = done / (due by the end of ``P`` and not dropped) over the clients'
  action items.

The composite **score** = Σ weightₘ · (m̃ₘ − median over providers) / IQR over providers (a
missing metric counts as the median), where m̃ = (n·m + k·μ) / (n + k) shrinks a client-averaged
metric (the uplifts, stage advancement) towards μ, its mean over all clients, with n the
provider's clients and k = ``shrinkage_clients``: one lucky client does not top the ranking.
The metrics reported and judged against the standard are the unshrunk m. A provider with at least ``min_clients`` clients is below
the standard when any metric is outside its bound, or at once on a severe violation.

Each verdict carries its reasons as codes with parameters (``evaluation.below_min`` with the
metric's code, its value and the bound; ``evaluation.not_judged``; ``evaluation.severe_violation``
with the brands): no text, which the surfaces render in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from windmaker.contract import STAGES
from windmaker.ecosystem.config import EvaluationConfig
from windmaker.ecosystem.uplift import (
    active_between,
    brand_month_frame,
    capability_effects,
    client_effects,
    month_last_day,
    prepare_assignments,
    shift_months,
)

METRICS = (
    "client_uplift",
    "client_uplift_year",
    "capability_uplift",
    "stage_advancement_rate",
    "client_retention",
    "trust_violations_per_client",
    "action_completion",
)


def _reason(
    criterion: str, value: float | int, ok: bool, code: str, params: dict[str, Any]
) -> dict[str, Any]:
    """One reason of an evaluation: the criterion judged, its value, whether it passed, and the
    reason's code with the numbers it cites (rendered by ``i18n.reason_text`` at the edges)."""
    return {"criterion": criterion, "value": value, "ok": ok, "code": code, "params": params}


def _standard_code(low: bool, high: bool, has_min: bool) -> str:
    """The reason code of a metric against its bound: below the minimum, above the maximum, or
    meeting the one it has."""
    if low:
        return "evaluation.below_min"
    if high:
        return "evaluation.above_max"
    return "evaluation.meets_min" if has_min else "evaluation.meets_max"


@dataclass(frozen=True)
class ProviderEvaluation:
    """One provider's evaluation of one period."""

    provider_id: str
    period: date
    clients: int
    gmv_served: Decimal
    annual_gmv_served: Decimal
    metrics: dict[str, float | None]
    score: float
    judged: bool
    meets_standard: bool
    severe_violation: bool
    #: criterion, value, ok, and the reason's ``code`` and ``params`` (JSON-ready)
    reasons: tuple[dict[str, Any], ...] = field(default=())

    def metrics_json(self) -> dict[str, Any]:
        """Metrics and counts as stored with the evaluation (JSON-ready)."""
        return {
            **self.metrics,
            "clients": self.clients,
            "annual_gmv_served": str(self.annual_gmv_served),
        }


@dataclass(frozen=True)
class EvaluationResult:
    """Every provider's evaluation plus the client-level uplifts behind them."""

    period: date
    providers: tuple[ProviderEvaluation, ...]
    #: provider_id, brand_id, category, base_gmv (monthly mean in W0), growth, peer_growth, uplift
    client_effects: pd.DataFrame


def month_start(value: Any) -> date:
    """First day of the month of ``value`` (a date, timestamp or ``YYYY-MM`` string)."""
    ts = pd.Timestamp(str(value) + "-01" if isinstance(value, str) and len(value) == 7 else value)
    return date(ts.year, ts.month, 1)


def _weighted_mean(effects: pd.DataFrame) -> pd.Series:
    """Per provider: Σ weight·uplift / Σ weight over its clients (NaN uplifts left out)."""
    e = effects.dropna(subset=["uplift"]) if not effects.empty else effects
    if e.empty:
        return pd.Series(dtype="float64")
    w = e["weight"].astype("float64")
    num = (w * e["uplift"].astype("float64")).groupby(e["provider_id"]).sum()
    return num / w.groupby(e["provider_id"]).sum()


def _served_gmv(
    bm: pd.DataFrame, a: pd.DataFrame, first: date, last: date, exact: pd.DataFrame
) -> pd.Series:
    """Σ net GMV of brand-months within [first, last] in which the provider served the brand.

    ``exact`` is the brand-month frame with ``net_gmv`` as Decimal, so sums are to the cent.
    """
    months = bm[(bm["period"] >= pd.Timestamp(first)) & (bm["period"] <= pd.Timestamp(last))]
    pairs = months[["brand_id", "period"]].merge(a, on="brand_id")
    month_end = pairs["period"] + pd.offsets.MonthEnd(0)
    pairs = pairs[(pairs["started_at"] <= month_end) & (pairs["ended_at"] >= pairs["period"])]
    pairs = pairs[["provider_id", "brand_id", "period"]].drop_duplicates()
    pairs = pairs.merge(exact, on=["brand_id", "period"])
    return pairs.groupby("provider_id")["gmv_exact"].agg(lambda s: sum(s, Decimal("0")))


def evaluate_providers(
    *,
    brand_month: pd.DataFrame,
    assignments: pd.DataFrame,
    period: date,
    config: EvaluationConfig,
    stages: pd.DataFrame | None = None,
    violations: pd.DataFrame | None = None,
    action_items: pd.DataFrame | None = None,
    capabilities: pd.DataFrame | None = None,
    provider_capabilities: dict[str, list[str]] | None = None,
    provider_ids: list[str] | None = None,
) -> EvaluationResult:
    """Evaluate every provider for ``period`` (the first day of a month).

    Parameters
    ----------
    brand_month
        ``m_brand_month``: brand_id, category, period, net_gmv (Decimal or float yuan).
    assignments
        provider_id, brand_id, started_at, ended_at (NaT/None: ongoing).
    stages
        ``g_stage``: brand_id, period, stage.
    violations
        brand_id, period, kind — trust violations of brands (kinds in
        ``severe_violation_kinds`` exit at once).
    action_items
        brand_id, status, due_date (and optionally provider_id).
    capabilities, provider_capabilities
        ``m_capability`` (brand_id, period, capability, index) and each provider's declared
        capabilities, for ``capability_uplift``.
    provider_ids
        Providers to evaluate even without clients (default: those with assignments).
    """
    period = month_start(period)
    bm = brand_month_frame(brand_month)
    exact = brand_month[["brand_id", "period", "net_gmv"]].copy()
    exact["period"] = pd.to_datetime(exact["period"])
    exact["gmv_exact"] = [Decimal(str(v)) for v in exact["net_gmv"]]
    exact = exact.drop(columns="net_gmv")
    a = prepare_assignments(assignments)
    L = config.growth_months
    p_start, p_end = pd.Timestamp(period), month_last_day(period)
    w1_start = pd.Timestamp(shift_months(period, -(L - 1)))
    ids = sorted(set(provider_ids or []) | set(a["provider_id"]))

    effects = client_effects(brand_month, assignments, period, config, stages)
    year = client_effects(
        brand_month,
        assignments,
        period,
        config.model_copy(update={"growth_months": config.trend_months}),
        stages,
    )
    in_period = a[active_between(a, p_start, p_end)][["provider_id", "brand_id"]].drop_duplicates()
    gmv_p = _served_gmv(bm, a, period, period, exact)
    gmv_12 = _served_gmv(bm, a, shift_months(period, -11), period, exact)

    table = pd.DataFrame(index=pd.Index(ids, name="provider_id"))
    table["clients"] = in_period.groupby("provider_id").size().reindex(table.index).fillna(0)
    table["client_uplift"] = effects.groupby("provider_id")["uplift"].mean()
    # the score reads provider means shrunk towards the mean client by n / (n + k)
    shrunk: dict[str, pd.Series] = {}

    def shrink(metric: str, values: pd.Series, keys: pd.Series) -> None:
        n = keys.groupby(keys.index).nunique() if len(keys) else pd.Series(dtype="float64")
        k = config.shrinkage_clients
        shrunk[metric] = (n * table[metric] + k * float(values.mean())) / (n + k)

    if not effects.empty:
        e_idx = effects.set_index("provider_id")
        shrink("client_uplift", e_idx["uplift"], e_idx["brand_id"])
    table["client_uplift_year"] = _weighted_mean(year)
    if not year.empty:
        y_idx = year.set_index("provider_id")
        shrink("client_uplift_year", y_idx["uplift"], y_idx["brand_id"])
    cap_effects = pd.DataFrame(columns=["provider_id", "uplift"])
    if capabilities is not None and not capabilities.empty and provider_capabilities:
        cap_effects = capability_effects(
            capabilities, brand_month, assignments, provider_capabilities, period, config, stages
        )
    table["capability_uplift"] = _weighted_mean(cap_effects)
    if not cap_effects.empty:
        c_idx = cap_effects.dropna(subset=["uplift"]).set_index("provider_id")
        shrink("capability_uplift", c_idx["uplift"], c_idx["brand_id"])

    if stages is not None and not stages.empty:
        st = stages[["brand_id", "period", "stage"]].copy()
        st["period"] = pd.to_datetime(st["period"])
        st["rank"] = st["stage"].map({s: i for i, s in enumerate(STAGES)})
        now_rank = st[st["period"] == p_start].set_index("brand_id")["rank"]
        before = st[st["period"] == pd.Timestamp(shift_months(period, -L))].set_index("brand_id")[
            "rank"
        ]
        e = effects[["provider_id", "brand_id"]].copy()
        e["now"] = e["brand_id"].map(now_rank)
        e["before"] = e["brand_id"].map(before)
        e = e.dropna(subset=["now", "before"])
        e["advanced"] = (e["now"] > e["before"]).astype(float)
        table["stage_advancement_rate"] = e.groupby("provider_id")["advanced"].mean()
        if not e.empty:
            a_idx = e.set_index("provider_id")
            shrink("stage_advancement_rate", a_idx["advanced"], a_idx["brand_id"])
    else:
        table["stage_advancement_rate"] = np.nan

    at_start = a[(a["started_at"] <= w1_start) & (a["ended_at"] >= w1_start)].copy()
    at_start["kept"] = (at_start["ended_at"] >= p_end).astype(float)
    table["client_retention"] = at_start.groupby("provider_id")["kept"].mean()

    severe = pd.Series(False, index=table.index)
    severe_brands: dict[str, list[str]] = {}
    if violations is not None and not violations.empty:
        v = violations[["brand_id", "period", "kind"]].copy()
        v["period"] = pd.to_datetime(v["period"])
        v = v[v["period"] == p_start].merge(in_period, on="brand_id")
        counts = v.groupby("provider_id").size()
        table["trust_violations_per_client"] = counts.reindex(table.index).fillna(0) / table[
            "clients"
        ].where(table["clients"] > 0)
        sv = v[v["kind"].isin(config.severe_violation_kinds)]
        for pid, g in sv.groupby("provider_id"):
            severe_brands[str(pid)] = sorted(set(g["brand_id"]))
        severe = pd.Series(table.index.isin(list(severe_brands)), index=table.index)
    else:
        table["trust_violations_per_client"] = (
            table["clients"] * 0.0 / table["clients"].where(table["clients"] > 0)
        )

    if action_items is not None and not action_items.empty:
        ai = action_items.copy()
        ai["due_date"] = pd.to_datetime(ai["due_date"])
        ai = ai[(ai["due_date"] <= p_end) & (ai["status"] != "dropped")]
        if "provider_id" in ai:
            own = ai.merge(in_period, on="brand_id", suffixes=("_item", ""))
            own = own[
                own["provider_id_item"].isna() | (own["provider_id_item"] == own["provider_id"])
            ]
        else:
            own = ai.merge(in_period, on="brand_id")
        own = own.assign(done=(own["status"] == "done").astype(float))
        table["action_completion"] = own.groupby("provider_id")["done"].mean()
    else:
        table["action_completion"] = np.nan

    score = pd.Series(0.0, index=table.index)
    for metric, weight in config.weights.items():
        col = shrunk.get(metric, table[metric]).reindex(table.index).astype("float64")
        med = col.median()
        iqr = col.quantile(0.75) - col.quantile(0.25)
        if pd.isna(med):
            continue
        z = ((col - med) / (iqr if iqr and iqr > 0 else 1.0)).fillna(0.0)
        score += weight * z

    out = []
    for pid in table.index:
        row = table.loc[pid]
        metrics = {m: (None if pd.isna(row[m]) else float(row[m])) for m in METRICS}
        reasons: list[dict[str, Any]] = []
        judged = int(row["clients"]) >= config.min_clients
        meets = True
        for metric, bound in config.standards.items():
            value = metrics[metric]
            if value is None:
                continue
            low = bound.min is not None and value < bound.min
            high = bound.max is not None and value > bound.max
            ok = not (low or high)
            limit = (
                bound.min
                if low
                else bound.max
                if high
                else (bound.min if bound.min is not None else bound.max)
            )
            reasons.append(
                _reason(
                    metric,
                    value,
                    ok,
                    _standard_code(low, high, bound.min is not None),
                    {"metric": {"name": "metric", "code": metric}, "value": value, "limit": limit},
                )
            )
            meets = meets and ok
        if not judged:
            reasons.append(
                _reason(
                    "clients",
                    int(row["clients"]),
                    True,
                    "evaluation.not_judged",
                    {"clients": int(row["clients"]), "min_clients": config.min_clients},
                )
            )
            meets = True
        is_severe = bool(severe.loc[pid])
        if is_severe:
            brands = severe_brands[str(pid)]
            reasons.append(
                _reason(
                    "severe_violation", 1, False, "evaluation.severe_violation", {"brands": brands}
                )
            )
            meets = False
        out.append(
            ProviderEvaluation(
                provider_id=str(pid),
                period=period,
                clients=int(row["clients"]),
                gmv_served=gmv_p.get(pid, Decimal("0")),
                annual_gmv_served=gmv_12.get(pid, Decimal("0")),
                metrics=metrics,
                score=float(score.loc[pid]),
                judged=judged,
                meets_standard=meets,
                severe_violation=is_severe,
                reasons=tuple(reasons),
            )
        )
    return EvaluationResult(period=period, providers=tuple(out), client_effects=effects)
