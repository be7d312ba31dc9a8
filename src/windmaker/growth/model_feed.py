"""Lifetime value and paid-traffic curves in the diagnosis: the P and T indices and the plan.

``windmaker models fit`` stores ``mdl_clv_brand`` / ``mdl_clv_buyers`` (BG/NBD or Pareto/NBD with
Gamma-Gamma, per buyer) and ``mdl_traffic_curves`` (adstock + saturation per brand). They are
fitted once, on the data up to one day, so they speak about the month holding that day (the
*model period*). This module turns them into

- a **model component** per brand for P (private domain) and T (traffic), robust-standardised
  like every metric and blended into the capability index of the model period, whose score is
  re-ranked in the group ``m_capability`` ranked it in (:func:`score_expressions`, with the
  metrics engine's :func:`~windmaker.metrics.category.robust_z` and
  :func:`~windmaker.metrics.category.midrank_percentile`: one implementation of each);
- **model-backed actions**: re-engage the at-risk buyers (count and expected value from
  ``mdl_clv_buyers``), and raise or cut paid spend towards the break-even spend of the curve
  (:func:`model_actions`).

Weights, fields and thresholds come from ``ladder.yaml`` → ``models``, the action texts from
``playbook.yaml`` → ``model_actions``. Without model tables nothing here runs and the diagnosis
is the metrics-only one. The caller executes the expressions (:func:`clv_expression`,
:func:`traffic_expression`, then :func:`score_expressions` over the executed feed) and hands
the frames over as a :class:`ModelFeed`; the actions are pure functions over those frames.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from windmaker import results
from windmaker.config import ConfigError
from windmaker.growth.config import ModelRules
from windmaker.growth.plan import ModelActions
from windmaker.metrics.category import BY_ALL, BY_CATEGORY, midrank_percentile, robust_z, spread

CLV_BRAND = results.CLV_BRAND
CLV_BUYERS = results.CLV_BUYERS
TRAFFIC_CURVES = results.TRAFFIC_CURVES
G_MODEL_SCORES = results.MODEL_SCORES

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
    "log_roas_ratio",
)
#: The model component per brand in its model period (``gaps`` blends it after smoothing).
COMPONENT_COLUMNS = (
    "brand_id",
    "category",
    "period",
    "capability",
    "model_value",
    "model_z",
    "weight",
)
#: ``g_model_scores``: every row of a re-ranked group, metrics-only and blended figures.
SCORE_COLUMNS = (
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
)


@dataclass(frozen=True)
class ModelFeed:
    """The model figures the diagnosis reads (executed frames).

    ``clv``: brand_id, period (month of the observation end), value (the configured
    ``mdl_clv_brand`` field), segment_buyers and segment_value (count and summed expected value
    over the horizon of the configured segment's buyers in ``mdl_clv_buyers``).
    ``traffic``: brand_id, period (month of ``period_end``) and the curve columns of
    ``TRAFFIC_COLUMNS``, with ``log_roas_ratio`` computed in the engine
    (:func:`traffic_expression`). Either may be empty. ``components`` (``COMPONENT_COLUMNS``) and
    ``scores`` (``g_model_scores``, ``SCORE_COLUMNS``): the executed :func:`score_expressions`,
    None until :meth:`scored` sets them.
    """

    clv: pd.DataFrame
    traffic: pd.DataFrame
    components: pd.DataFrame | None = None
    scores: pd.DataFrame | None = None

    @property
    def empty(self) -> bool:
        return self.clv.empty and self.traffic.empty

    def scored(self, components: pd.DataFrame | None, scores: pd.DataFrame | None) -> ModelFeed:
        """This feed with the executed components and scores (None: no model value matched),
        periods as ``datetime64[s]`` like the diagnosis' frames."""
        return replace(
            self,
            components=_frame(components, COMPONENT_COLUMNS),
            scores=_frame(scores, SCORE_COLUMNS),
        )


def _frame(frame: pd.DataFrame | None, columns: tuple[str, ...]) -> pd.DataFrame:
    if frame is None or frame.empty:
        out = pd.DataFrame({k: pd.Series(dtype="float64") for k in columns})
        return out.astype({k: object for k in ("brand_id", "category", "capability")})
    out = frame[list(columns)].copy()
    out["period"] = pd.to_datetime(out["period"]).astype("datetime64[s]")
    for k in ("brand_id", "category", "capability"):
        out[k] = out[k].astype(object)
    return out.sort_values(["brand_id", "period", "capability"]).reset_index(drop=True)


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


def traffic_expression(rules: ModelRules, curves: ibis.Table) -> ibis.Table:
    """The curve columns the T component and the spend action read, numbers as float64, and
    their ``log_roas_ratio`` (:func:`log_roas_ratio`, clipped to ``models.traffic.max_log_ratio``
    of ``ladder.yaml``): computed once, here, and read by both."""
    stored = ("brand_id", "period", "saturation", "log_roas_ratio")
    floats = [c for c in TRAFFIC_COLUMNS if c not in stored]
    marginal = curves.marginal_roas.cast("float64")
    break_even = curves.break_even_roas.cast("float64")
    return curves.select(
        "brand_id",
        "period_end",
        curves.saturation.cast("string").name("saturation"),
        *[curves[c].cast("float64").name(c) for c in floats],
        log_roas_ratio=log_roas_ratio(marginal, break_even, rules.traffic.max_log_ratio),
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


# -- the P and T components -------------------------------------------------------------------
def log_roas_ratio(
    marginal: ir.FloatingValue, break_even: ir.FloatingValue, max_log_ratio: float
) -> ir.FloatingValue:
    """``ln(marginal ROAS / break-even ROAS)`` clipped to ±``max_log_ratio``.

    Positive: the next yuan returns more than break-even (under-spending); negative: the brand
    spends past break-even. ``−max_log_ratio`` where the curve is flat (marginal ROAS ≤ 0),
    null without a positive break-even ROAS. The T component and the spend action both read
    it (:func:`traffic_expression`).
    """
    ratio = (marginal / break_even).ln().clip(lower=-max_log_ratio, upper=max_log_ratio)
    return ibis.cases(
        (break_even.isnull() | (break_even <= 0), ibis.null("float64")),
        (marginal <= 0, -max_log_ratio),
        else_=ratio,
    )


def _capability_rows(capability: ir.Table) -> ir.Table:
    """``m_capability`` rows as the scoring reads them; without a ``benchmark`` column every
    row counts as compared within its category."""
    bench = (
        capability.benchmark.cast("string")
        if "benchmark" in capability.columns
        else ibis.literal(BY_CATEGORY)
    )
    return capability.select(
        brand_id=capability.brand_id.cast("string"),
        category=capability.category.cast("string"),
        period=capability.period.cast("date"),
        capability=capability.capability.cast("string"),
        index=capability["index"].cast("float64"),
        score=capability.score.cast("float64"),
        benchmark=bench,
    )


def _model_values(feed: ModelFeed, rules: ModelRules) -> ir.Table | None:
    """brand_id, period, capability, model_value, weight of the feed's frames (``memtable``).

    P: ``value`` (e.g. expected repeat value per buyer over 180 days); T:
    ``−|ln(marginal ROAS / break-even ROAS)|`` (the feed's ``log_roas_ratio``), so a brand far
    from break-even on either side scores low.
    """
    parts = []
    if not feed.clv.empty:
        c = ibis.memtable(feed.clv[["brand_id", "period", "value"]])
        parts.append(
            c.select(
                brand_id=c.brand_id.cast("string"),
                period=c.period.cast("date"),
                capability=ibis.literal(PRIVATE_DOMAIN),
                model_value=c.value.cast("float64"),
                weight=ibis.literal(rules.private_domain.weight, "float64"),
            )
        )
    if not feed.traffic.empty:
        t = ibis.memtable(feed.traffic[["brand_id", "period", "log_roas_ratio"]])
        ratio = t.log_roas_ratio.cast("float64")
        parts.append(
            t.select(
                brand_id=t.brand_id.cast("string"),
                period=t.period.cast("date"),
                capability=ibis.literal(TRAFFIC),
                model_value=-ratio.abs(),
                weight=ibis.literal(rules.traffic.weight, "float64"),
            )
        )
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts[0].union(parts[1])


def _drop_right(t: ir.Table) -> ir.Table:
    return t.drop(*[c for c in t.columns if c.endswith("_right")])


def components_expression(
    rules: ModelRules, capability: ir.Table, feed: ModelFeed
) -> ir.Table | None:
    """The model component of P and T per brand in its model period (None without models).

    Each model value is robust-standardised with the metrics engine's rule
    (:func:`windmaker.metrics.category.robust_z`: IQR, the range where the IQR is 0, 0 where
    nothing varies) within the brand's category × period among brands with a model value, or
    among every such brand of the period where ``m_capability`` pools the category
    (``benchmark = 'all'``) or fewer than ``min_category_brands`` of its brands have a value.
    Only brand-months present in ``capability`` (with its category) count. Columns:
    ``COMPONENT_COLUMNS``.
    """
    values = _model_values(feed, rules)
    if values is None:
        return None
    cap = _capability_rows(capability)
    keys = cap.select("brand_id", "category", "period", "benchmark").distinct()
    df = values.inner_join(keys, ["brand_id", "period"])
    df = _drop_right(df)
    df = df.filter(df.model_value.notnull() & ~df.model_value.isnan())
    own_group = ["capability", "period", "category"]
    n = df.brand_id.count().over(ibis.window(group_by=own_group))
    df = df.mutate(_pooled=(df.benchmark == BY_ALL) | (n < rules.min_category_brands))
    j = _drop_right(df.left_join(spread(df, own_group, value="model_value"), own_group))
    pooled_group = ["capability", "period"]
    j = _drop_right(
        j.left_join(spread(df, pooled_group, "_all", value="model_value"), pooled_group)
    )

    def pick(col: str) -> ir.FloatingValue:
        return ibis.cases((j._pooled, j[f"{col}_all"]), else_=j[col])

    z = robust_z(j.model_value, *(pick(c) for c in ("med", "q25", "q75", "lo", "hi")))
    return j.select(*COMPONENT_COLUMNS[:5], model_z=z, weight=j.weight)


def scores_expression(
    capability: ir.Table, components: ir.Table, *, index_decimals: int
) -> ir.Table:
    """``g_model_scores``: the capability rows whose score the components move, re-ranked.

    ``index = (1 − w) · index + w · model_z`` where the brand has a component, else the metrics
    index, rounded to ``index_decimals`` (``metrics.yaml`` → ``benchmark.index_decimals``) as
    ``m_capability``'s index is, so that indices equal but for the last bits of their sums tie;
    ``score`` = :func:`windmaker.metrics.category.midrank_percentile` of that index in
    the group ``m_capability`` ranked the row in: its category × period × capability, or every
    brand of the period × capability where the category is pooled (``benchmark = 'all'``). A
    row is kept when its group holds a component (a brand without a model value still moves
    when its neighbours' indices do). Columns: ``SCORE_COLUMNS``.
    """
    cap = _capability_rows(capability)
    comp = components.select("brand_id", "period", "capability", "model_value", "model_z", "weight")
    j = _drop_right(cap.left_join(comp, ["brand_id", "period", "capability"]))
    both = j["index"].notnull() & j.model_z.notnull()
    j = j.mutate(
        metric_index=j["index"],
        metric_score=j.score,
        index=ibis.cases(
            (both, (1 - j.weight) * j["index"] + j.weight * j.model_z), else_=j["index"]
        ).round(index_decimals),
    )
    own, pooled = ["category", "period", "capability"], ["period", "capability"]
    is_pooled = j.benchmark == BY_ALL
    has = j.model_z.notnull().cast("int32")
    touched = ibis.cases(
        (is_pooled, has.max().over(ibis.window(group_by=pooled))),
        else_=has.max().over(ibis.window(group_by=own)),
    )
    score = ibis.cases(
        (is_pooled, midrank_percentile(j["index"], pooled)),
        else_=midrank_percentile(j["index"], own),
    )
    j = j.mutate(score=score, _touched=touched)
    return j.filter(j._touched == 1).select(*SCORE_COLUMNS)


def score_expressions(
    rules: ModelRules, capability: ir.Table, feed: ModelFeed, *, index_decimals: int
) -> tuple[ir.Table, ir.Table] | None:
    """The components and ``g_model_scores`` expressions the caller executes (then
    :meth:`ModelFeed.scored`); None when the feed holds no model value. ``index_decimals``:
    ``metrics.yaml`` → ``benchmark.index_decimals``, the rounding ``m_capability`` ranks by."""
    comps = components_expression(rules, capability, feed)
    if comps is None:
        return None
    return comps, scores_expression(capability, comps, index_decimals=index_decimals)


def blended_capability(capability: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """``capability`` with the index and score of the rows in ``scores`` (``g_model_scores``)
    replaced by the blended ones; every other row unchanged, order and dtypes kept."""
    if scores.empty:
        return capability
    keys = ["brand_id", "period", "capability"]
    new = scores[[*keys, "index", "score"]].rename(columns={"index": "_index", "score": "_score"})
    cap = capability.merge(new, on=keys, how="left", validate="one_to_one", indicator=True)
    moved = cap["_merge"] == "both"
    cap.loc[moved, "index"] = cap.loc[moved, "_index"]
    cap.loc[moved, "score"] = cap.loc[moved, "_score"]
    return cap[list(capability.columns)].astype(capability.dtypes.to_dict())


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

    Only where ``|ln(marginal ROAS / break-even ROAS)| ≥ min_log_roas_gap`` (the executed
    ``log_roas_ratio`` of :func:`traffic_expression`) and the brand spends now. Daily spend moves from ``current_spend`` to ``break_even_spend`` held within
    [``spend_min_ratio``, ``spend_max_ratio``] × current, quoted a month (× ``days_per_month``);
    the GMV change is ``(g(target) − g(current)) × days_per_month`` on the curve
    (:func:`steady_gmv`). current / target = the monthly spends.
    """
    a = rules.actions
    if traffic.empty:
        return pd.DataFrame(columns=list(ACTION_COLUMNS))
    ratio = traffic["log_roas_ratio"].astype("float64")
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
