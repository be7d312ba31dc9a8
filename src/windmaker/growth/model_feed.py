"""Lifetime value and paid-traffic curves in the diagnosis: the P and T indices and the plan.

``windmaker models fit`` stores ``mdl_clv_brand`` / ``mdl_clv_buyers`` (BG/NBD or Pareto/NBD with
Gamma-Gamma, per buyer) and ``mdl_traffic_curves`` (adstock + saturation per brand). They are
fitted once, on the data up to one day, so they speak about the month holding that day (the
*model period*). This module turns them into

- a **model component** per brand for P (private domain) and T (traffic), robust-standardised
  within the category like every metric, blended into the capability index of the model period
  (:func:`components`, :func:`enrich_capability`);
- **model-backed actions**: re-engage the at-risk buyers (count and expected value from
  ``mdl_clv_buyers``), and raise or cut paid spend towards the break-even spend of the curve
  (:func:`model_actions`).

Weights, fields and thresholds come from ``ladder.yaml`` → ``models``, the action texts from
``playbook.yaml`` → ``model_actions``. Without model tables nothing here runs and the diagnosis
is the metrics-only one. Pure functions over frames; :func:`input_expressions` builds the Ibis
expressions the caller executes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from windmaker.config import ConfigError
from windmaker.growth.config import ModelRules
from windmaker.growth.plan import ModelActions

CLV_BRAND = "mdl_clv_brand"
CLV_BUYERS = "mdl_clv_buyers"
TRAFFIC_CURVES = "mdl_traffic_curves"
G_MODEL_SCORES = "g_model_scores"

PRIVATE_DOMAIN, TRAFFIC = "private_domain", "traffic"
#: ``g_plan.metric`` of the model-backed actions.
AT_RISK_METRIC, SPEND_METRIC = "at_risk_buyers", "paid_spend_month"

CLV_COLUMNS = ("brand_id", "period", "value", "segment_buyers", "segment_value")
TRAFFIC_COLUMNS = (
    "brand_id",
    "period",
    "saturation",
    "beta",
    "half_saturation_spend",
    "hill_shape",
    "r2",
    "current_spend",
    "marginal_roas",
    "break_even_roas",
    "break_even_spend",
)


@dataclass(frozen=True)
class ModelFeed:
    """The model figures the diagnosis reads, one row per brand (executed frames).

    ``clv``: brand_id, period (month of the observation end), value (the configured
    ``mdl_clv_brand`` field), segment_buyers and segment_value (count and summed expected value
    over the horizon of the configured segment's buyers in ``mdl_clv_buyers``).
    ``traffic``: brand_id, period (month of ``period_end``) and the curve columns of
    ``TRAFFIC_COLUMNS``. Either may be empty.
    """

    clv: pd.DataFrame
    traffic: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.clv.empty and self.traffic.empty


def _month(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.to_period("M").dt.to_timestamp().astype("datetime64[s]")


def clv_expression(rules: ModelRules, clv_brand: ibis.Table, clv_buyers: ibis.Table) -> ibis.Table:
    """Per brand: the configured value field and the configured segment's count and value.

    The buyer table is aggregated in the engine (it has a row per buyer). A field or horizon
    the fitted tables do not have is a configuration error naming the key.
    """
    field = rules.private_domain.field
    if field not in clv_brand.columns:
        raise ConfigError(
            "ladder.yaml", "models.private_domain.field", f"{CLV_BRAND} has no column {field!r}"
        )
    horizon = f"expected_value_{rules.actions.horizon_days}d"
    if horizon not in clv_buyers.columns:
        raise ConfigError(
            "ladder.yaml",
            "models.actions.horizon_days",
            f"{CLV_BUYERS} has no column {horizon!r} (models.yaml → clv.horizons_days)",
        )
    seg = clv_buyers.filter(clv_buyers.segment == rules.actions.at_risk_segment)
    seg = seg.group_by("brand_id").aggregate(
        segment_buyers=seg.count(), segment_value=seg[horizon].cast("float64").sum()
    )
    brand = clv_brand.select(
        "brand_id",
        observation_end=clv_brand.observation_end,
        value=clv_brand[field].cast("float64"),
    )
    joined = brand.left_join(seg, "brand_id")
    return joined.select(
        brand.brand_id,
        brand.observation_end,
        brand.value,
        ibis.coalesce(joined.segment_buyers, 0).name("segment_buyers"),
        ibis.coalesce(joined.segment_value, 0.0).name("segment_value"),
    )


def traffic_expression(curves: ibis.Table) -> ibis.Table:
    """The curve columns the T component and the spend action read, numbers as float64."""
    floats = [c for c in TRAFFIC_COLUMNS if c not in ("brand_id", "period", "saturation")]
    return curves.select(
        "brand_id",
        "period_end",
        curves.saturation.cast("string").name("saturation"),
        *[curves[c].cast("float64").name(c) for c in floats],
    )


def feed_from_frames(clv: pd.DataFrame | None, traffic: pd.DataFrame | None) -> ModelFeed:
    """A :class:`ModelFeed` from the executed expressions (``None`` = table absent)."""
    if clv is None or clv.empty:
        c = pd.DataFrame({k: pd.Series(dtype="float64") for k in CLV_COLUMNS})
    else:
        c = clv.assign(period=_month(clv["observation_end"]))[list(CLV_COLUMNS)]
    if traffic is None or traffic.empty:
        t = pd.DataFrame({k: pd.Series(dtype="float64") for k in TRAFFIC_COLUMNS})
    else:
        t = traffic.assign(period=_month(traffic["period_end"]))[list(TRAFFIC_COLUMNS)]
    c["brand_id"] = c["brand_id"].astype(object)
    t["brand_id"] = t["brand_id"].astype(object)
    return ModelFeed(c.reset_index(drop=True), t.reset_index(drop=True))


# -- the P and T components --------------------------------------------------------------------
def traffic_log_ratio(traffic: pd.DataFrame, max_log_ratio: float) -> pd.Series:
    """``ln(marginal ROAS / break-even ROAS)`` clipped to ±``max_log_ratio``.

    Positive: the next yuan returns more than break-even (under-spending); negative: the brand
    spends past break-even. A marginal ROAS of 0 (a flat curve) counts as ``−max_log_ratio``.
    """
    m = traffic["marginal_roas"].astype("float64")
    be = traffic["break_even_roas"].astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(m.clip(lower=0) / be)
    return pd.Series(np.clip(r, -max_log_ratio, max_log_ratio), index=traffic.index)


def robust_z(values: pd.Series, groups: pd.Series) -> pd.Series:
    """``(v − median) / IQR`` within each group.

    Where the IQR is 0 (most brands share one value, e.g. at break-even) the standard deviation
    (ddof 0) is the unit instead, so the few brands away from the crowd still stand out; 0 when
    the group does not vary at all.
    """
    g = values.groupby(groups)
    med = g.transform("median")
    iqr = g.transform(lambda s: s.quantile(0.75) - s.quantile(0.25))
    sd = g.transform(lambda s: s.std(ddof=0))
    scale = iqr.where(iqr > 0, sd)
    z = (values - med) / scale.where(scale > 0)
    return z.where(scale > 0, 0.0).where(values.notna())


def components(feed: ModelFeed, capability: pd.DataFrame, rules: ModelRules) -> pd.DataFrame:
    """The model component of P and T per brand in its model period.

    P: ``value`` (e.g. expected repeat value per buyer over 180 days); T:
    ``−|ln(marginal ROAS / break-even ROAS)|`` (:func:`traffic_log_ratio`), so a brand far from
    break-even on either side scores low. Each is robust-standardised (:func:`robust_z`) within
    the brand's category among brands with a model value in that period, pooling every category
    when the category has fewer than ``min_category_brands``. Only brand-months present in
    ``capability`` (with its category) count. Returns brand_id, category, period, capability,
    model_value, model_z, weight.
    """
    keys = capability[["brand_id", "category", "period"]].drop_duplicates()
    parts = []
    if not feed.clv.empty:
        p = feed.clv[["brand_id", "period", "value"]].rename(columns={"value": "model_value"})
        parts.append(p.assign(capability=PRIVATE_DOMAIN, weight=rules.private_domain.weight))
    if not feed.traffic.empty:
        ratio = traffic_log_ratio(feed.traffic, rules.traffic.max_log_ratio)
        t = feed.traffic[["brand_id", "period"]].assign(model_value=-ratio.abs())
        parts.append(t.assign(capability=TRAFFIC, weight=rules.traffic.weight))
    if not parts:
        return pd.DataFrame(
            columns=[
                "brand_id",
                "category",
                "period",
                "capability",
                "model_value",
                "model_z",
                "weight",
            ]
        )
    df = pd.concat(parts, ignore_index=True).merge(keys, on=["brand_id", "period"])
    df = df.loc[df["model_value"].notna()].reset_index(drop=True)
    n = df.groupby(["capability", "period", "category"])["brand_id"].transform("size")
    scope = df["category"].where(n >= rules.min_category_brands, "\x00all")
    df["model_z"] = robust_z(
        df["model_value"], df["capability"] + "|" + df["period"].astype(str) + "|" + scope
    )
    return df[["brand_id", "category", "period", "capability", "model_value", "model_z", "weight"]]


def blend(index: pd.Series, model_z: pd.Series, weight: pd.Series) -> pd.Series:
    """``(1 − w) · index + w · z`` where both are present, else the index unchanged."""
    both = index.notna() & model_z.notna()
    return index.where(~both, (1 - weight) * index + weight * model_z)


def midrank_score(index: pd.Series, groups: list[pd.Series]) -> pd.Series:
    """The capability score: the mid-rank percentile (0–100) of the index within its group.

    ``100 × (#{below} + ½ (#{equal} − 1)) / (n − 1)`` (50 when n = 1), the metrics engine's
    formula, with ``rank(average) − 1 = #{below} + ½ (#{equal} − 1)``.
    """
    g = index.groupby(groups)
    r = g.rank(method="average")
    n = g.transform("count")
    score = 100.0 * (r - 1) / (n - 1).where(n > 1)
    return score.where(n > 1, 50.0).where(index.notna())


def enrich_capability(
    capability: pd.DataFrame, comps: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Blend the model components into ``m_capability`` rows and re-rank the scores.

    Returns the capability frame with ``index`` blended (:func:`blend`) and ``score`` recomputed
    (:func:`midrank_score`) in every category × period × capability that holds a blended row
    (the other rows are untouched), and the ``g_model_scores`` table: brand_id, category,
    period, capability, metric_index, metric_score, model_value, model_z, weight, index, score.
    """
    if comps.empty:
        return capability, pd.DataFrame()
    cap = capability.merge(
        comps.drop(columns="category"), on=["brand_id", "period", "capability"], how="left"
    )
    cap["metric_index"], cap["metric_score"] = cap["index"], cap["score"]
    cap["index"] = blend(cap["index"], cap["model_z"], cap["weight"])
    touched = comps[["category", "period", "capability"]].drop_duplicates().assign(_t=True)
    cap = cap.merge(touched, on=["category", "period", "capability"], how="left")
    t = cap["_t"].fillna(False).astype(bool)
    rescored = midrank_score(
        cap.loc[t, "index"],
        [cap.loc[t, "category"], cap.loc[t, "period"], cap.loc[t, "capability"]],
    )
    cap.loc[t, "score"] = rescored
    stored = cap.loc[cap["model_z"].notna()].reset_index(drop=True)
    stored = stored[
        [
            "brand_id",
            "category",
            "period",
            "capability",
            "metric_index",
            "metric_score",
            "model_value",
            "model_z",
            "weight",
            "index",
            "score",
        ]
    ]
    return cap[list(capability.columns)].astype(capability.dtypes.to_dict()), stored


# -- model-backed actions ----------------------------------------------------------------------
def steady_gmv(traffic: pd.DataFrame, spend: pd.Series) -> pd.Series:
    """Steady-state daily paid GMV of each brand's curve at a constant daily ``spend``.

    Hill: ``g(s) = β x / (1 + x)``, ``x = (s / K)^S`` with K = ``half_saturation_spend``,
    S = ``hill_shape``. Logistic: ``g(s) = β tanh(λ k s / 2)`` with
    ``λ k = ln 3 / half_saturation_spend`` (the spend at β/2). The formulas of
    :mod:`windmaker.models.traffic`, evaluated from the stored columns.
    """
    s = spend.astype("float64").clip(lower=0)
    beta = traffic["beta"].astype("float64")
    k = traffic["half_saturation_spend"].astype("float64")
    shape = traffic["hill_shape"].astype("float64")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = (s / k) ** shape
        hill = beta * x / (1 + x)
        logistic = beta * np.tanh(np.log(3) * s / (2 * k))
    return pd.Series(
        np.where(traffic["saturation"].astype(str) == "hill", hill, logistic), index=traffic.index
    )


def _money(x: pd.Series) -> list[str]:
    return [f"{v:,.0f}" for v in x.astype("float64").round(0)]


def _evidence(records: Sequence[Mapping[str, object]]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False, allow_nan=False) for r in records]


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


ACTION_COLUMNS = (
    "brand_id",
    "period",
    "capability",
    "action_id",
    "title_en",
    "title_zh",
    "metric",
    "direction",
    "model_current",
    "model_target",
    "model_evidence",
)


def model_actions(feed: ModelFeed, rules: ModelRules, texts: ModelActions) -> pd.DataFrame:
    """One model-backed action per brand and capability where the model gives one.

    P (:func:`reengage_actions`) from the lifetime-value figures, T (:func:`spend_actions`)
    from the traffic curves. Returns the columns of ``ACTION_COLUMNS``.
    """
    out = [
        f
        for f in (
            reengage_actions(feed.clv, rules, texts),
            spend_actions(feed.traffic, rules, texts),
        )
        if len(f)
    ]
    if not out:
        return pd.DataFrame(columns=list(ACTION_COLUMNS))
    return pd.concat(out, ignore_index=True)[list(ACTION_COLUMNS)]


def reengage_actions(clv: pd.DataFrame, rules: ModelRules, texts: ModelActions) -> pd.DataFrame:
    """Re-engage the buyers of the configured segment (``texts.private_domain``).

    For brands with at least ``min_segment_buyers`` such buyers: the count and their summed
    expected value over ``horizon_days`` (``ModelFeed.clv``); current = the buyer count, no
    target (re-engagement is the action, not a level to reach).
    """
    a = rules.actions
    clv = clv.loc[clv["segment_buyers"].fillna(0) >= a.min_segment_buyers]
    if clv.empty:
        return pd.DataFrame(columns=list(ACTION_COLUMNS))
    text = texts.private_domain
    buyers = clv["segment_buyers"].astype("int64")
    value = clv["segment_value"].astype("float64")
    fields = [
        {"buyers": f"{b:,}", "value": v, "days": a.horizon_days}
        for b, v in zip(buyers, _money(value), strict=True)
    ]
    evidence = [
        {
            "source": CLV_BUYERS,
            "segment": a.at_risk_segment,
            "buyers": int(b),
            "expected_value": round(float(v), 2),
            "horizon_days": a.horizon_days,
        }
        for b, v in zip(buyers, value, strict=True)
    ]
    return pd.DataFrame(
        {
            "brand_id": clv["brand_id"].to_numpy(),
            "period": clv["period"].to_numpy(),
            "capability": PRIVATE_DOMAIN,
            "action_id": text.id,
            "title_en": [text.title_en.format(**f) for f in fields],
            "title_zh": [text.title_zh.format(**f) for f in fields],
            "metric": AT_RISK_METRIC,
            "direction": "lower",
            "model_current": buyers.astype("float64").to_numpy(),
            "model_target": np.nan,
            "model_evidence": _evidence(evidence),
        }
    )


def spend_actions(traffic: pd.DataFrame, rules: ModelRules, texts: ModelActions) -> pd.DataFrame:
    """Raise or cut paid spend towards the curve's break-even spend (``texts.traffic_*``).

    Only where ``|ln(marginal ROAS / break-even ROAS)| ≥ min_log_roas_gap`` and the brand
    spends now. Daily spend moves from ``current_spend`` to ``break_even_spend`` held within
    [``spend_min_ratio``, ``spend_max_ratio``] × current, quoted a month (× ``days_per_month``);
    the GMV change is ``(g(target) − g(current)) × days_per_month`` on the curve
    (:func:`steady_gmv`). current / target = the monthly spends.
    """
    a = rules.actions
    if traffic.empty:
        return pd.DataFrame(columns=list(ACTION_COLUMNS))
    ratio = traffic_log_ratio(traffic, rules.traffic.max_log_ratio)
    cur = traffic["current_spend"].astype("float64")
    be = traffic["break_even_spend"].astype("float64")
    target = be.clip(lower=cur * a.spend_min_ratio, upper=cur * a.spend_max_ratio)
    days = a.days_per_month
    gain = (steady_gmv(traffic, target) - steady_gmv(traffic, cur)) * days
    keep = (
        (ratio.abs() >= a.min_log_roas_gap)
        & (cur > 0)
        & (target != cur)
        & np.isfinite(target)
        & np.isfinite(gain)
    )
    tr, cur, be, target, gain = (x.loc[keep] for x in (traffic, cur, be, target, gain))
    if tr.empty:
        return pd.DataFrame(columns=list(ACTION_COLUMNS))
    up = (target > cur).to_numpy()
    fields = [
        {"current": c, "target": t, "gain": g, "lost": lost, "saved": s}
        for c, t, g, lost, s in zip(
            _money(cur * days),
            _money(target * days),
            _money(gain.clip(lower=0)),
            _money((-gain).clip(lower=0)),
            _money(((cur - target) * days).clip(lower=0)),
            strict=True,
        )
    ]
    chosen = [texts.traffic_raise if u else texts.traffic_cut for u in up]
    evidence = [
        {
            "source": TRAFFIC_CURVES,
            "current_spend_month": round(float(c * days), 2),
            "target_spend_month": round(float(t * days), 2),
            "break_even_spend_month": round(float(b * days), 2),
            "marginal_roas": _finite(float(m)),
            "break_even_roas": _finite(float(r)),
            "gmv_change_month": round(float(g), 2),
            "saturation": str(sat),
            "r2": _finite(float(r2)),
        }
        for c, t, b, m, r, g, sat, r2 in zip(
            cur,
            target,
            be,
            tr["marginal_roas"],
            tr["break_even_roas"],
            gain,
            tr["saturation"],
            tr["r2"],
            strict=True,
        )
    ]
    return pd.DataFrame(
        {
            "brand_id": tr["brand_id"].to_numpy(),
            "period": tr["period"].to_numpy(),
            "capability": TRAFFIC,
            "action_id": [t.id for t in chosen],
            "title_en": [t.title_en.format(**f) for t, f in zip(chosen, fields, strict=True)],
            "title_zh": [t.title_zh.format(**f) for t, f in zip(chosen, fields, strict=True)],
            "metric": SPEND_METRIC,
            "direction": np.where(up, "higher", "lower"),
            "model_current": (cur * days).round(2).to_numpy(),
            "model_target": (target * days).round(2).to_numpy(),
            "model_evidence": _evidence(evidence),
        }
    )
