"""One brand's page context: what the brand page and the brand report both show.

Built once from the read model's typed records (:class:`~windmaker.views.records.Scorecard`,
:class:`~windmaker.views.records.Diagnosis`), so the page and the report cannot disagree on a
stage, a score, a bottleneck or an action. Records reach the templates as plain mappings
(``model_dump``), the shape the templates read.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from windmaker import contract, numbers, results
from windmaker.codes import Capability
from windmaker.i18n import explain_bottleneck, name, t
from windmaker.services.identity import Principal
from windmaker.views import charts, models_view
from windmaker.views.evidence import PeerStory, plan_stories
from windmaker.views.readmodel import GMV_DRIVERS_BRAND, ReadModel

#: Series of the trend chart (``m_brand_month`` columns).
TREND_METRICS = ("net_gmv", "self_gmv", "distribution_gmv", "paid_gmv")
#: GMV = UV × watch time per UV × orders per watch hour × AOV (m_gmv_drivers' contributions).
DRIVERS = ("uv", "watch_time", "conversion", "aov")
#: Metrics whose month-over-month change the report lists.
KEY_METRICS = (
    "net_gmv",
    "orders",
    "buyers",
    "aov",
    "self_share",
    "public_share",
    "distribution_share",
    "repurchase_rate_90d",
    "special_supply_share",
    "refund_rate",
)


def pick_month(value: str | date | None, available: list[date]) -> date:
    """The diagnosed month ``value`` names (``YYYY-MM`` or a date), or the latest one.

    Raises ``LookupError`` naming the diagnosed months when ``value`` is not one of them.
    """
    if value is None:
        if not available:
            raise LookupError("no diagnosed month yet: run `windmaker run` first")
        return max(available)
    if isinstance(value, str):
        try:
            year, month = value.split("-")[:2]
            value = date(int(year), int(month), 1)
        except ValueError:
            raise LookupError(f"{value!r} is not a month (YYYY-MM)") from None
    if value not in available:
        shown = ", ".join(f"{d:%Y-%m}" for d in sorted(available)[-6:])
        raise LookupError(f"no diagnosis for {value:%Y-%m}; diagnosed months end with: {shown}")
    return value


def month_choices(
    history: list[dict[str, Any]], series: list[dict[str, Any]], lang: str
) -> list[dict[str, Any]]:
    """The period picker: every diagnosed month, newest first, the month the data ends inside
    marked "to date" (本月至今)."""
    partial = {r["period"] for r in series if r.get("to_date")}
    months = sorted({h["period"] for h in history if h.get("period")}, reverse=True)
    return [
        {
            "value": f"{p:%Y-%m}",
            "label": numbers.month(p, lang)
            + (f" · {t('label.to_date', lang)}" if p in partial else ""),
            "to_date": p in partial,
            "period": p,
        }
        for p in months
    ]


def next_stage(stage: str | None) -> str | None:
    """The stage after ``stage`` (None at the top or without a stage)."""
    if stage not in contract.STAGES:
        return None
    i = contract.STAGES.index(stage)
    return contract.STAGES[i + 1] if i + 1 < len(contract.STAGES) else None


def bottleneck_text(row: dict[str, Any], stage: str | None, lang: str) -> str:
    """One bottleneck in the metric's own numbers (``numbers.metric``): against the brands that
    reached the next stage when it was measured against them; otherwise as
    :func:`windmaker.i18n.explain_bottleneck` says it."""
    metric = str(row.get("metric") or "")
    basis = str(row.get("metric_basis") or row.get("basis") or "advancers")
    reached = next_stage(stage)
    if (
        row.get("ranked_by") == "criterion"
        or not row.get("weakness")
        or not metric
        or basis not in ("advancers", "next_stage")
        or reached is None
        or row.get("metric_value") is None
        or row.get("metric_reference") is None
    ):
        return explain_bottleneck(row, lang)
    return t(
        "brand.bottleneck_vs_reached",
        lang,
        metric=name("metric", metric, lang),
        value=numbers.metric(metric, row["metric_value"], lang),
        reference=numbers.metric(metric, row["metric_reference"], lang),
        stage=t(f"stage.{reached}", lang),
    )


def plan_rows(
    plan: list[dict[str, Any]], stories: dict[str, list[PeerStory]], lang: str
) -> list[dict[str, Any]]:
    """The plan as a person reads it: each action's title, the capability it moves, its metric's
    name, the current value and the target in the metric's unit, and the peers' stories."""
    rows = []
    for a in plan:
        metric = a.get("metric")
        evidence = a.get("evidence") or {}
        summary = evidence.get("summary") or {}
        rows.append(
            {
                "action_id": a["action_id"],
                "rank": a.get("rank"),
                "title": (a.get("title_zh") if lang == "zh-CN" else a.get("title_en"))
                or name("action", a["action_id"], lang),
                "capability": a.get("capability"),
                "capability_name": name("capability", a.get("capability"), lang),
                "metric": metric,
                "metric_name": name("metric", metric, lang),
                "current": numbers.metric(metric, a.get("current"), lang) if metric else "–",
                "target": numbers.metric(metric, a.get("target"), lang) if metric else "–",
                "stories": stories.get(str(a["action_id"]), []),
                "summary": summary.get("text_zh" if lang == "zh-CN" else "text_en"),
                "note": evidence.get("note"),
            }
        )
    return rows


def _changes(monthly: list[dict[str, Any]], period: date | None) -> tuple[date | None, list[Any]]:
    """The previous month and each key metric's value now, then, and relative change
    (``monthly``: the brand's metric series)."""
    series = {r["period"]: r for r in monthly}
    previous = max((p for p in series if period and p < period), default=None)
    changes = []
    for m in KEY_METRICS:
        now = series.get(period, {}).get(m)
        before = series.get(previous, {}).get(m) if previous else None
        delta = None if now is None or before in (None, 0) else float(now) / float(before) - 1
        changes.append({"metric": m, "now": now, "before": before, "change": delta})
    return previous, changes


def _waterfall(drivers: list[dict[str, Any]], lang: str) -> dict[str, Any] | None:
    """The GMV driver waterfall of the newest decomposable driver row, if any."""
    if not drivers:
        return None
    latest = max(drivers, key=lambda r: str(r.get("period", "")))
    if not latest.get("decomposable") or latest.get("prev_live_gmv") is None:
        return None
    parts = [(t(f"driver.{d}", lang), float(latest[f"contrib_{d}"] or 0.0)) for d in DRIVERS]
    days = latest.get("compared_days")
    ends = None  # a whole month starts from the month before, both named
    if isinstance(latest.get("period"), date) and not days:
        now = latest["period"]
        before = date(now.year - (now.month == 1), (now.month - 2) % 12 + 1, 1)
        ends = (numbers.month(before, lang), numbers.month(now, lang))
    return charts.waterfall(
        parts, float(latest["prev_live_gmv"]), lang, int(days) if days else None, ends
    )


def brand_context(
    rm: ReadModel,
    brand_id: str,
    lang: str,
    month: str | date | None = None,
    viewer: Principal | None = None,
) -> dict[str, Any]:
    """Everything the brand page and the brand report show, for one diagnosed month.

    ``month`` (``YYYY-MM`` or a date) defaults to the brand's latest diagnosed month; a brand
    not judged yet (insufficient history) has ``period`` None and shows why. A brand user
    ``viewer`` reads peers and category statistics anonymised (:mod:`windmaker.views.privacy`).
    Raises ``LookupError`` for an unknown brand or a month that was not diagnosed.
    """
    brand = rm.brand(brand_id)
    if brand is None:
        raise LookupError(f"unknown brand {brand_id}")
    history = rm.stage_history(brand_id, viewer)
    available = [h["period"] for h in history]
    period = pick_month(month, available) if month is not None or available else None
    score = rm.scorecard(brand_id, period, viewer)
    diag = rm.diagnosis(brand_id, period, viewer)
    series = rm.metric_series(brand_id)
    previous, changes = _changes(series, period)
    drivers = [
        r
        for r in rm.table_rows(GMV_DRIVERS_BRAND, brand_id)
        if period is None or r.get("period") == period
    ]
    diag_rows = diag.model_dump()
    stage = diag.stage.stage if diag.stage else None
    for b in diag_rows["bottlenecks"]:
        b["text"] = bottleneck_text(b, stage, lang)
    stories = plan_stories(rm, brand_id, period, lang, viewer) if diag.plan else {}
    trend_metrics = [m for m in TREND_METRICS if series and m in series[0]]
    return models_view.sections(rm, brand_id, lang, period, viewer) | {
        "brand": brand,
        "period": period or score.period,
        "previous": previous,
        "score": score.model_dump(),
        # the scores table in the method's S-T-E-P-S order, as the radar draws them
        "scores": sorted(
            score.model_dump()["capabilities"],
            key=lambda c: list(Capability).index(c["capability"]),
        ),
        "diag": diag_rows,
        "stage": stage,
        "history": history,
        "months": month_choices(history, series, lang),
        "plan_rows": plan_rows(diag_rows["plan"], stories, lang),
        "changes": changes,
        "radar": charts.radar(rm.radar(brand_id, period, viewer).model_dump(), lang),
        "bottleneck_chart": charts.bottleneck_bars(diag_rows["bottlenecks"], lang)
        if diag.bottlenecks
        else None,
        "trend": charts.trend(series, trend_metrics, lang) if series else None,
        "waterfall": _waterfall(drivers, lang),
        "drivers": drivers,
        "recommendations": sorted(
            (r for r in rm.table_rows(results.RECOMMENDATIONS, brand_id) if not r.get("sku_id")),
            key=lambda r: r.get("rank") or 0,
        )[:10],
        "clv": rm.table_rows(results.CLV_BRAND, brand_id),
        "traffic": rm.table_rows(results.TRAFFIC_CURVES, brand_id),
        "trust": rm.table_rows(results.TRUST_SCORES, brand_id),
    }
