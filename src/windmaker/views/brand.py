"""One brand's page context: what the brand page and the brand report both show.

Built once from the read model's typed records (:class:`~windmaker.views.records.Scorecard`,
:class:`~windmaker.views.records.Diagnosis`), so the page and the report cannot disagree on a
stage, a score, a bottleneck or an action. Records reach the templates as plain mappings
(``model_dump``), the shape the templates read.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from windmaker import results
from windmaker.i18n import t
from windmaker.services.identity import Principal
from windmaker.views import charts
from windmaker.views.readmodel import ReadModel

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


def _changes(rm: ReadModel, brand_id: str, period: date | None) -> tuple[date | None, list[Any]]:
    """The previous month and each key metric's value now, then, and relative change."""
    series = {r["period"]: r for r in rm.metric_series(brand_id)}
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
    return charts.waterfall(
        parts, float(latest["prev_live_gmv"]), lang, int(days) if days else None
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
    previous, changes = _changes(rm, brand_id, period)
    drivers = [
        r
        for r in rm.table_rows(results.GMV_DRIVERS, brand_id)
        if r.get("level") == "brand" and (period is None or r.get("period") == period)
    ]
    diag_rows = diag.model_dump()
    trend_metrics = [m for m in TREND_METRICS if series and m in series[0]]
    return {
        "brand": brand,
        "period": period or score.period,
        "previous": previous,
        "score": score.model_dump(),
        "diag": diag_rows,
        "stage": diag.stage.stage if diag.stage else None,
        "history": history,
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
