"""The brand page's model sections as a business view: lifetime value, paid traffic, trust and
influencer recommendations.

Built from the read model's rows of the fitted models (``mdl_clv_brand``, ``mdl_traffic_curves``,
``mdl_budget``, ``mdl_trust_scores``, ``mdl_trust_alerts``, ``mdl_recommendations``). Every
number a person reads is formatted here with :mod:`windmaker.numbers` and every sentence comes
from the catalogue; model parameters appear only in the analysts' details, named and rounded.
"""

from __future__ import annotations

import functools
import json
import math
from datetime import date
from typing import Any

import numpy as np

from windmaker import numbers, results
from windmaker.i18n import name, t
from windmaker.models.clv import SEGMENTS
from windmaker.models.traffic import Curve, HillCurve, ResponseCurve
from windmaker.models.trust import load_config as load_trust_config
from windmaker.views.readmodel import ReadModel

#: Days in the month the traffic section speaks of (curves and budgets are per day).
MONTH_DAYS = 30
#: Horizons of the expected value per buyer (``mdl_clv_brand.value_per_buyer_<h>d``).
HORIZONS = (90, 180, 365)
#: Action item created by the lifetime-value section when the plan has no re-engagement action.
REENGAGE_ACTION = "reengage:at_risk"
#: Action item of an influencer invitation: ``invite:<account_id>``.
INVITE_PREFIX = "invite:"
#: Trust components, in the order of ``trust.yaml``'s weights.
TRUST_PARTS = (
    "refund_rate",
    "complaints_per_1k",
    "late_shipment_rate",
    "review_shortfall",
    "brushing_share",
)
#: Recommended influencers shown.
TOP_INFLUENCERS = 10


def _num(value: Any) -> float | None:
    """A finite float, or None (missing, NaN, text)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def sections(
    rm: ReadModel,
    brand_id: str,
    lang: str,
    period: date | None = None,
    viewer: object = None,
) -> dict[str, Any]:
    """The four model sections of brand ``brand_id`` (each None when its model has no rows).

    ``period`` picks the trust month (default the latest); the models are fitted on the whole
    history, so lifetime value, traffic and influencers are as of their fit. ``viewer`` is
    accepted for symmetry with the other sections: nothing here is about other brands.
    """
    del viewer
    plan = rm.table_rows(results.PLAN, brand_id)
    return {
        "value_view": value_view(rm.table_rows(results.CLV_BRAND, brand_id), plan, lang),
        "traffic_view": traffic_view(
            rm.table_rows(results.TRAFFIC_CURVES, brand_id),
            rm.table_rows(results.BUDGET, brand_id),
            lang,
        ),
        "trust_view": trust_view(
            rm.table_rows(results.TRUST_SCORES, brand_id),
            rm.table_rows(results.TRUST_ALERTS, brand_id),
            period,
            lang,
            trust_maxima(rm),
        ),
        "influencer_view": influencer_view(
            rm.table_rows(results.RECOMMENDATIONS, brand_id), rm.brand(brand_id) or {}, lang
        ),
    }


# -- lifetime value --------------------------------------------------------------------------
#: Named model parameters of the analysts' details: (column, catalogue key, decimals).
CLV_PARAMETERS = (
    ("r", "brandmodels.param.r", 2),
    ("alpha", "brandmodels.param.alpha", 2),
    ("a", "brandmodels.param.a", 2),
    ("b", "brandmodels.param.b", 2),
    ("s", "brandmodels.param.s", 2),
    ("beta", "brandmodels.param.beta", 2),
    ("gg_p", "brandmodels.param.gg_p", 2),
    ("gg_q", "brandmodels.param.gg_q", 2),
    ("gg_gamma", "brandmodels.param.gg_gamma", 1),
)


def value_view(
    rows: list[dict[str, Any]], plan: list[dict[str, Any]], lang: str
) -> dict[str, Any] | None:
    """Buyers by segment (count, share, expected value over 365 days), expected value per buyer
    at 90/180/365 days, the at-risk buyers to re-engage, and the fit for analysts.

    Segments are the lifetime-value model's (``models.clv.segment_buyers``): repeat buyers by
    their probability of still being active, one-time buyers by days since their purchase.
    """
    if not rows:
        return None
    row = max(rows, key=lambda r: str(r.get("observation_end") or ""))
    counts = {s: int(_num(row.get(f"{s}_buyers")) or 0) for s in SEGMENTS}
    total = sum(counts.values()) or int(_num(row.get("buyers")) or 0)
    segments = []
    for s in SEGMENTS:
        value = _num(row.get(f"{s}_value_365d"))
        segments.append(
            {
                "code": s,
                "name": t(f"brandmodels.segment.{s}", lang),
                "hint": t(f"brandmodels.segment_hint.{s}", lang),
                "buyers": counts[s],
                "buyers_text": numbers.count(counts[s], lang),
                "share": round(counts[s] / total, 4) if total else None,
                "share_text": numbers.pct(counts[s] / total if total else None, lang),
                "value": None if value is None else round(value),
                "value_text": numbers.money(value, lang),
            }
        )
    per_buyer = [
        {
            "days": h,
            "label": t("brandmodels.clv.horizon", lang, days=h),
            "value_text": numbers.money(row.get(f"value_per_buyer_{h}d"), lang),
            "purchases_text": numbers.decimal(row.get(f"expected_purchases_{h}d"), 2, lang),
        }
        for h in HORIZONS
    ]
    at_risk = segments[SEGMENTS.index("at_risk")]
    planned = next((a for a in plan if a.get("metric") == "at_risk_buyers"), None)
    reengage = None
    if at_risk["buyers"]:
        reengage = {
            "text": t(
                "brandmodels.clv.reengage",
                lang,
                buyers=at_risk["buyers_text"],
                value=at_risk["value_text"],
            ),
            "action_id": str(planned["action_id"]) if planned else REENGAGE_ACTION,
            "in_plan": planned is not None,
        }
    return {
        "buyers": total,
        "buyers_text": numbers.count(total, lang),
        "segments": segments,
        "per_buyer": per_buyer,
        "reengage": reengage,
        "as_of": numbers.day(row.get("observation_end"), lang),
        "details": _clv_details(row, lang),
    }


def _clv_details(row: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """The fit for analysts: model, where it was fitted, named parameters, log-likelihood."""
    model = str(row.get("repeat_model") or "")
    out = [
        (t("brandmodels.param.model", lang), name("brandmodels.model", model, lang)),
        (
            t("brandmodels.param.fit_level", lang),
            name("brandmodels.fit_level", row.get("fit_level"), lang),
        ),
        (
            t("brandmodels.param.spend_fit_level", lang),
            name("brandmodels.fit_level", row.get("spend_fit_level"), lang),
        ),
        (
            t("brandmodels.param.time_unit", lang),
            name("brandmodels.time_unit", row.get("time_unit"), lang),
        ),
        (
            t("brandmodels.param.repeat_buyers", lang),
            numbers.count(row.get("repeat_buyers"), lang),
        ),
        (t("brandmodels.param.p_alive_mean", lang), numbers.pct(row.get("p_alive_mean"), lang)),
    ]
    for col, key, decimals in CLV_PARAMETERS:
        v = _num(row.get(col))
        if v is not None:
            out.append((t(key, lang), numbers.decimal(v, decimals, lang)))
    loglik = _num(row.get("loglik"))
    if loglik is not None:
        out.append((t("brandmodels.param.loglik", lang), numbers.decimal(loglik, 0, lang)))
    return out


# -- paid traffic ----------------------------------------------------------------------------
def response_curve(row: dict[str, Any]) -> Curve | None:
    """The fitted steady-state response of a ``mdl_traffic_curves`` row, in yuan a day.

    A Hill curve is its half-saturation spend K, shape S and ceiling β. A logistic curve's
    response depends on λ and the carryover k only through λk = ln 3 / (half-saturation spend),
    so it is rebuilt with k = 1 (no lag) and that λ: the same g(s) = β tanh(λ k s / 2).
    """
    beta = _num(row.get("beta"))
    half = _num(row.get("half_saturation_spend"))
    alpha = _num(row.get("adstock_alpha")) or 0.0
    if beta is None or half is None or half <= 0:
        return None
    if row.get("saturation") == "hill":
        shape = _num(row.get("hill_shape"))
        if shape is None:
            return None
        return HillCurve(alpha=alpha, kappa=half, shape=shape, beta=beta, l_max=1)
    return ResponseCurve(alpha=0.0, lam=math.log(3) / half, beta=beta, l_max=1)


def traffic_view(
    rows: list[dict[str, Any]], budget: list[dict[str, Any]], lang: str
) -> dict[str, Any] | None:
    """The response curve spend → paid GMV a month with today's spend, the break-even spend
    and the recommended budget marked, and the sentence that reads it."""
    if not rows:
        return None
    row = max(rows, key=lambda r: str(r.get("period_end") or ""))
    curve = response_curve(row)
    current = _num(row.get("current_spend"))
    if curve is None or current is None:
        return None
    break_even = _num(row.get("break_even_spend"))
    rec_row = budget[0] if budget else None
    recommended = _num(rec_row.get("recommended_spend")) if rec_row else None

    def month_gmv(daily_spend: float) -> float:
        return float(np.asarray(curve.gmv(daily_spend))) * MONTH_DAYS

    marks = [("current", current)]
    if break_even is not None and break_even > 0:
        marks.append(("break_even", break_even))
    if recommended is not None:
        marks.append(("recommended", recommended))
    top = max(v for _, v in marks) * 1.5 or 1.0
    grid = np.linspace(0.0, top, 41)
    points = [[round(s * MONTH_DAYS), round(month_gmv(s))] for s in grid]
    mark_points: list[dict[str, Any]] = []
    for kind, spend in marks:
        x, y = round(spend * MONTH_DAYS), round(month_gmv(spend))
        label = t(f"brandmodels.traffic.mark.{kind}", lang, spend=numbers.money(x, lang))
        mark_points.append(
            {"name": label, "coord": [x, y], "value": y, "label": {"formatter": label}}
        )
    option = {
        "wm": {"lang": lang, "value": "money", "axis": "money"},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 70, "right": 30, "top": 40, "bottom": 50},
        "xAxis": {
            "type": "value",
            "name": t("brandmodels.traffic.axis_spend", lang),
            "nameLocation": "middle",
            "nameGap": 28,
        },
        "yAxis": {"type": "value", "name": t("brandmodels.traffic.axis_gmv", lang)},
        "series": [
            {
                "name": t("brandmodels.traffic.curve", lang),
                "type": "line",
                "showSymbol": False,
                "smooth": True,
                "data": points,
                "markPoint": {"symbolSize": 36, "data": mark_points},
                "markLine": {
                    "symbol": "none",
                    "lineStyle": {"type": "dashed"},
                    "label": {"show": False},
                    "data": [{"name": m["name"], "xAxis": m["coord"][0]} for m in mark_points],
                },
            }
        ],
    }
    now_spend, now_gmv = current * MONTH_DAYS, month_gmv(current)
    sentence = t(
        "brandmodels.traffic.now",
        lang,
        spend=numbers.money(now_spend, lang),
        gmv=numbers.money(now_gmv, lang),
        roas=numbers.decimal(now_gmv / now_spend if now_spend else None, 2, lang),
    )
    if recommended is not None:
        gain = month_gmv(recommended) / now_gmv - 1 if now_gmv else None
        sentence += t(
            "brandmodels.traffic.recommended",
            lang,
            budget=numbers.money(recommended * MONTH_DAYS, lang),
            change=numbers.change(gain, lang),
        )
    facts = [
        (
            t("brandmodels.traffic.marginal", lang),
            numbers.decimal(row.get("marginal_roas"), 2, lang),
        ),
        (
            t("brandmodels.traffic.break_even_roas", lang),
            numbers.decimal(row.get("break_even_roas"), 2, lang),
        ),
    ]
    if recommended is not None:
        facts.append(
            (
                t("brandmodels.traffic.recommended_label", lang),
                t("brandmodels.traffic.recommended_note", lang),
            )
        )
    if break_even is not None:
        facts.append(
            (
                t("brandmodels.traffic.break_even_spend", lang),
                numbers.money(break_even * MONTH_DAYS, lang),
            )
        )
    details = [
        (
            t("brandmodels.param.saturation", lang),
            name("brandmodels.saturation", row.get("saturation"), lang),
        ),
        (
            t("brandmodels.param.half_saturation", lang),
            numbers.money(_num(row.get("half_saturation_spend")), lang),
        ),
        (t("brandmodels.param.ceiling", lang), numbers.money(_num(row.get("beta")), lang)),
        (t("brandmodels.param.adstock", lang), numbers.pct(row.get("adstock_alpha"), lang)),
        (t("brandmodels.param.r2", lang), numbers.decimal(row.get("r2"), 2, lang)),
        (t("brandmodels.param.spend_days", lang), numbers.count(row.get("spend_days"), lang)),
    ]
    if _num(row.get("hill_shape")) is not None:
        details.insert(
            2,
            (
                t("brandmodels.param.hill_shape", lang),
                numbers.decimal(row.get("hill_shape"), 2, lang),
            ),
        )
    return {"chart": option, "sentence": sentence, "facts": facts, "details": details}


# -- trust -----------------------------------------------------------------------------------
@functools.cache
def _shipped_trust_weights() -> dict[str, float]:
    return dict(load_trust_config().score.weights)


def trust_maxima(rm: ReadModel) -> dict[str, float]:
    """Each trust component's maximum points: its weight × 100, from the workspace's
    ``trust.yaml`` the read model was given (the shipped file's when it was given none)."""
    weights = rm.trust_weights if rm.trust_weights is not None else _shipped_trust_weights()
    return {k: 100.0 * w for k, w in weights.items()}


def _trust_value(part: str, value: object, lang: str) -> str:
    """A component's value as read: shares as percentages, complaints per 1,000 orders and the
    review shortfall (stars below 5) as decimals."""
    if part in ("complaints_per_1k", "review_shortfall"):
        return numbers.decimal(value, 1 if part == "complaints_per_1k" else 2, lang)
    return numbers.pct(value, lang)


def trust_view(
    scores: list[dict[str, Any]],
    alerts: list[dict[str, Any]],
    period: date | None,
    lang: str,
    maxima: dict[str, float],
) -> dict[str, Any] | None:
    """The trust score of ``period`` (default the latest), each component against its maximum
    points (``maxima``, :func:`trust_maxima`), and the cause of the brand's alert in words."""
    if not scores:
        return None
    dated = sorted(scores, key=lambda r: str(r.get("period") or ""))
    upto = [r for r in dated if period is None or str(r.get("period")) <= str(period)]
    row = (upto or dated)[-1]
    parts = []
    for k in TRUST_PARTS:
        top = maxima.get(k)
        pts = _num(row.get(f"{k}_points"))
        if top is None:
            continue
        got = None if pts is None else min(pts, top)
        parts.append(
            {
                "code": k,
                "name": name("metric", k, lang),
                "points": None if got is None else round(got, 1),
                "max": round(top),
                "lost": None if got is None else round(top - got, 1),
                "text": t(
                    "brandmodels.trust.points",
                    lang,
                    points=numbers.decimal(got, 0, lang),
                    max=numbers.decimal(top, 0, lang),
                ),
                "value_text": _trust_value(k, row.get(k), lang),
                "ref_text": _trust_value(k, row.get(f"{k}_ref"), lang),
                "worse": (_num(row.get(k)) or 0.0) > (_num(row.get(f"{k}_ref")) or 0.0),
            }
        )
    # The alerts up to the month shown: a month read in the past never shows a later alert.
    alerts = [a for a in alerts if str(a.get("period")) <= str(row.get("period"))]
    own = [a for a in alerts if not a.get("account_id")]
    at_row = [a for a in own if str(a.get("period")) == str(row.get("period"))]
    shown = at_row or sorted(own, key=lambda a: str(a.get("period") or ""))[-1:]
    when = shown[0].get("period") if shown else None
    if shown and when != row.get("period"):
        shown = [a for a in own if a.get("period") == when]
    accounts = {
        str(a["account_id"])
        for a in alerts
        if a.get("account_id") and str(a.get("period")) == str(when)
    }
    cause = _trust_cause(shown, parts, len(accounts), lang) if shown else None
    return {
        "score_text": numbers.decimal(row.get("score"), 0, lang)
        if _num(row.get("score")) is not None
        else name("trust_status", row.get("status"), lang),
        "period_text": numbers.month(row.get("period"), lang),
        "parts": parts,
        "cause": cause,
        "alert_period_text": numbers.month(when, lang) if when else None,
    }


def _trust_cause(
    alerts: list[dict[str, Any]], parts: list[dict[str, Any]], accounts: int, lang: str
) -> str:
    """Which parts failed, in words: the score below its threshold and the components that
    cost the most points against the category, brushing, alerted accounts."""
    out = []
    kinds = {str(a.get("kind")): a for a in alerts}
    low = kinds.get("low_trust")
    if low is not None:
        failing = sorted(
            (p for p in parts if p["worse"] and p["lost"]), key=lambda p: -(p["lost"] or 0)
        )[:2]
        reasons = "；" if lang.startswith("zh") else "; "
        out.append(
            t(
                "brandmodels.trust.cause_low",
                lang,
                score=numbers.decimal(low.get("score"), 0, lang),
                threshold=numbers.decimal(low.get("threshold"), 0, lang),
            )
        )
        if failing:
            out.append(
                reasons.join(
                    t(
                        "brandmodels.trust.cause_part",
                        lang,
                        part=p["name"],
                        value=p["value_text"],
                        ref=p["ref_text"],
                        points=p["text"],
                    )
                    for p in failing
                )
                + ("。" if lang.startswith("zh") else ".")
            )
    brushing = kinds.get("brushing")
    if brushing is not None:
        params = _params(brushing.get("reason_params"))
        out.append(
            t(
                "brandmodels.trust.cause_brushing",
                lang,
                share=numbers.pct(params.get("share"), lang),
                threshold=numbers.pct(brushing.get("threshold"), lang),
            )
        )
    for kind in sorted(set(kinds) - {"low_trust", "brushing"}):
        out.append(name("brandmodels.alert", kind, lang))
    if accounts:
        out.append(t("brandmodels.trust.cause_accounts", lang, accounts=accounts))
    return (" " if not lang.startswith("zh") else "").join(out)


def _params(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        out = json.loads(str(value)) if value else {}
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


# -- influencers -----------------------------------------------------------------------------
#: The features a recommendation's reason may name, strongest first when tied.
_FEATURES = ("conversion", "gmv", "fans", "growth", "category", "trust", "similar")


def influencer_view(
    rows: list[dict[str, Any]], brand: dict[str, Any], lang: str
) -> list[dict[str, Any]]:
    """The recommended influencers as profiles, each with a reason of its own.

    The reason names each influencer's two strongest features *relative to the others in the
    list* (where it ranks highest among them: conversion, GMV, fans, audience growth, category
    fit, trust), so two influencers rarely read alike; growth is capped (``numbers.change``).
    """
    recs = sorted((r for r in rows if not r.get("sku_id")), key=lambda r: int(r.get("rank") or 0))[
        :TOP_INFLUENCERS
    ]
    profiles = [_params(r.get("reason_params")).get("profile") or {} for r in recs]
    values = {
        "conversion": [_num(p.get("orders_per_1k")) for p in profiles],
        "gmv": [_num(p.get("gmv")) for p in profiles],
        "fans": [_num(p.get("fans")) for p in profiles],
        "growth": [_num(p.get("growth")) for p in profiles],
        "category": [_num(p.get("category_share")) for p in profiles],
        "trust": [_num(r.get("trust_score")) for r in recs],
        "similar": [1.0 if p.get("similar_brands") else None for p in profiles],
    }
    ranks = {k: _list_ranks(v) for k, v in values.items()}
    # Shared by many: worth naming only when nothing sets the influencer apart.
    ranks["similar"] = [None if v is None else 0.5 for v in values["similar"]]
    used: set[tuple[str, ...]] = set()
    out = []
    for i, (r, p) in enumerate(zip(recs, profiles, strict=True)):
        order = sorted(
            (k for k in _FEATURES if ranks[k][i] is not None),
            key=lambda k: (-(ranks[k][i] or 0.0), _FEATURES.index(k)),
        )
        pick = tuple(order[:2])
        if pick in used and len(order) > 2:
            pick = (order[0], order[2])
        used.add(pick)
        reason = _join(lang, [_feature_text(k, p, r, lang) for k in pick]) or t(
            "reason.influencers.predicted", lang
        )
        lo, hi = _num(p.get("price_lo")), _num(p.get("price_hi"))
        account = str(r.get("account_id") or "")
        out.append(
            {
                "rank": int(r.get("rank") or i + 1),
                "account_id": account,
                "name": str(r.get("name") or account),
                "category": name("category", p.get("category"), lang),
                "fans_text": numbers.count(p.get("fans"), lang),
                "price_band_text": (
                    f"{numbers.money(lo, lang)}–{numbers.money(hi, lang)}"
                    if lo is not None and hi is not None
                    else numbers.missing(lang)
                ),
                "conversion_text": numbers.decimal(p.get("orders_per_1k"), 1, lang),
                "gmv_text": numbers.money(p.get("gmv"), lang),
                "gmv_months": int(_num(p.get("months")) or 12),
                "expected_text": numbers.money(r.get("expected_gmv"), lang),
                "trust_text": numbers.decimal(r.get("trust_score"), 0, lang),
                "reason": reason,
                "action_id": INVITE_PREFIX + account,
            }
        )
    return out


def _list_ranks(values: list[float | None]) -> list[float | None]:
    """Each value's rank among the present ones, 0 (lowest) to 1 (highest); None stays None."""
    present = sorted(v for v in values if v is not None)
    n = len(present)
    if n == 0:
        return [None] * len(values)
    return [
        None if v is None else (present.index(v) + present.count(v) - 1) / (n - 1) if n > 1 else 1.0
        for v in values
    ]


def _feature_text(key: str, p: dict[str, Any], r: dict[str, Any], lang: str) -> str:
    if key == "conversion":
        return t(
            "brandmodels.influencer.conversion",
            lang,
            orders=numbers.decimal(p.get("orders_per_1k"), 1, lang),
            top=numbers.pct(1 - (_num(p.get("top_conversion")) or 0.0), lang, 0),
        )
    if key == "gmv":
        return t(
            "brandmodels.influencer.gmv",
            lang,
            gmv=numbers.money(p.get("gmv"), lang),
            months=int(_num(p.get("months")) or 12),
        )
    if key == "fans":
        return t("brandmodels.influencer.fans", lang, fans=numbers.count(p.get("fans"), lang))
    if key == "growth":
        return t(
            "brandmodels.influencer.growth", lang, change=numbers.change(p.get("growth"), lang)
        )
    if key == "category":
        return t(
            "brandmodels.influencer.category",
            lang,
            share=numbers.pct(p.get("category_share"), lang, 0),
        )
    if key == "trust":
        return t(
            "brandmodels.influencer.trust",
            lang,
            score=numbers.decimal(r.get("trust_score"), 0, lang),
        )
    return t("brandmodels.influencer.similar", lang)


def _join(lang: str, parts: list[str]) -> str:
    return ("；" if lang.startswith("zh") else "; ").join(x for x in parts if x)
