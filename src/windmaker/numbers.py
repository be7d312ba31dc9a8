"""Numbers as people read them: the one formatter of every page, export, report and chart.

- money: 万 and 亿 in zh-CN (``¥1,234``, ``¥12.35万``, ``¥1.3亿``), thousands separators in
  English (``¥12,967,910``); a compact form for chart axes (``¥13M``);
- shares as percentages (``65.3%``), changes signed (``+38%``, ``-2.1 pts``);
- counts as whole numbers with separators (``5,589``);
- a metric's value in its own unit (:func:`metric`), from one table of units (:data:`UNITS`);
- a month as ``2026年11月`` / ``Nov 2026``.

Babel does the locale work (CLDR separators, the Chinese 万/亿 compact forms); this module only
chooses the unit and the precision. A missing value (None, NaN) is the catalogue's "n/a" word.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Literal

from babel import Locale
from babel.dates import format_skeleton
from babel.numbers import format_compact_decimal, format_decimal

from windmaker import results
from windmaker.i18n import DEFAULT_LANG, t

Unit = Literal["money", "share", "count", "ratio", "hours", "score", "per_1k", "number"]

#: Metrics whose unit the column type and name do not tell (see :func:`unit_of`).
_EXPLICIT: dict[str, Unit] = {
    "roas": "ratio",
    "aov": "money",
    "gpm": "money",
    "self_gmv_per_live_hour": "money",
    "live_hours": "hours",
    "complaints_per_1k": "per_1k",
    "review_score": "number",
    "influencer_hhi": "ratio",
    "min_score": "score",
    "score": "score",
    "trust_score": "score",
    "review_shortfall": "share",
    "brushing_share": "share",
    "action_completion": "share",
    "client_retention": "share",
    "stage_advancement_rate": "share",
    "capability_uplift": "number",
    "trust_violations_per_client": "ratio",
    "clients": "count",
    "months_with_sales": "count",
    "annual_gmv_served": "money",
    "client_uplift": "share",
    "client_uplift_year": "share",
    "expected_gmv": "money",
    "gmv": "money",
    "at_risk_buyers": "count",
    "at_risk_value": "money",
    "paid_spend_month": "money",
}


def _is_share(metric: str) -> bool:
    """``self_share``, ``refund_rate``, ``repurchase_rate_90d``: a share of something."""
    return any(part in ("share", "rate") for part in metric.split("_"))


def _column_units() -> dict[str, Unit]:
    """Units read off the results contract: money columns, integer counts, shares and rates."""
    found: dict[str, Unit] = {}
    for table in results.TABLES:
        for column in table.columns:
            if column.money:
                found.setdefault(column.name, "money")
            elif column.dtype == "int":
                found.setdefault(column.name, "count")
            elif column.dtype == "float" and _is_share(column.name):
                found.setdefault(column.name, "share")
    return found


UNITS: dict[str, Unit] = _column_units() | _EXPLICIT


def unit_of(metric: str) -> Unit:
    """The unit a metric is read in; a metric not in the table is a plain number."""
    if metric in UNITS:
        return UNITS[metric]
    if _is_share(metric):
        return "share"
    return "number"


#: Parsed once: Babel parses a locale name on every call otherwise, a third of a page's work.
_LOCALES = {"zh_CN": Locale.parse("zh_CN"), "en": Locale.parse("en")}


def _locale(lang: str) -> Locale:
    return _LOCALES["zh_CN" if lang.lower().startswith("zh") else "en"]


def _value(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) or math.isinf(v) else v


def missing(lang: str = DEFAULT_LANG) -> str:
    return t("value.missing", lang)


def decimal(value: object, decimals: int = 1, lang: str = DEFAULT_LANG) -> str:
    """A number with separators and at most ``decimals`` decimals (trailing zeros dropped)."""
    v = _value(value)
    if v is None:
        return missing(lang)
    pattern = "#,##0" + ("." + "#" * decimals if decimals > 0 else "")
    return format_decimal(round(v, decimals) + 0.0, format=pattern, locale=_locale(lang))


def count(value: object, lang: str = DEFAULT_LANG) -> str:
    """A whole count: ``5,589``; in zh-CN from 10万 up, ``12.3万``."""
    v = _value(value)
    if v is None:
        return missing(lang)
    if _locale(lang) is _LOCALES["zh_CN"] and abs(v) >= 1e5:
        return format_compact_decimal(v, locale=_LOCALES["zh_CN"], fraction_digits=1)
    return decimal(round(v), 0, lang)


def money(value: object, lang: str = DEFAULT_LANG, *, compact: bool = False) -> str:
    """Yuan: ``¥12.35万`` / ``¥1.3亿`` in zh-CN, ``¥12,967,910`` in English.

    Under ¥100 the fen show (``¥3.5``); above it whole yuan. ``compact`` (chart axes, tight
    cells) gives ``¥13M`` / ``¥450K`` in English; Chinese is compact already.
    """
    v = _value(value)
    if v is None:
        return missing(lang)
    sign = "-" if v < 0 else ""
    a = abs(v)
    loc = _locale(lang)
    if loc is _LOCALES["zh_CN"] and a >= 1e4:
        body = format_compact_decimal(a, locale=loc, fraction_digits=2)
    elif compact and a >= 1e3:
        body = format_compact_decimal(a, locale=loc, fraction_digits=1)
    else:
        body = decimal(a, 0 if a >= 100 else 2, lang)
    return f"{sign}¥{body}"


def pct(value: object, lang: str = DEFAULT_LANG, decimals: int = 1) -> str:
    """A share as a percentage: 0.6534 → ``65.3%``."""
    v = _value(value)
    if v is None:
        return missing(lang)
    return decimal(v * 100, decimals, lang) + "%"


def change(value: object, lang: str = DEFAULT_LANG) -> str:
    """A relative change, signed: 0.38 → ``+38%``, -0.021 → ``-2.1%``; beyond ±1000% it is capped
    (``>+1000%``), since a change from almost nothing says nothing."""
    v = _value(value)
    if v is None:
        return missing(lang)
    if abs(v) > 10:
        return (">+" if v > 0 else "<-") + "1,000%"
    text = pct(abs(v), lang, 0 if abs(v) >= 0.1 else 1)
    return ("+" if v > 0 else "-" if v < 0 else "") + text


def points(value: object, lang: str = DEFAULT_LANG) -> str:
    """A change of a share in percentage points: 0.13 → ``+13 pts`` / ``+13个百分点``."""
    v = _value(value)
    if v is None:
        return missing(lang)
    sign = "+" if v > 0 else "-" if v < 0 else ""
    return sign + t("unit.points", lang, value=decimal(abs(v) * 100, 1, lang))


def metric(name: str, value: object, lang: str = DEFAULT_LANG) -> str:
    """A metric's value in its own unit: money, share, count, ROAS (``2.35``), hours, score."""
    unit = unit_of(name)
    if unit == "money":
        return money(value, lang)
    if unit == "share":
        return pct(value, lang)
    if unit == "count":
        return count(value, lang)
    if unit == "score":
        return decimal(value, 0, lang)
    if unit == "hours":
        v = _value(value)
        return missing(lang) if v is None else t("unit.hours", lang, value=decimal(v, 1, lang))
    if unit == "per_1k":
        return decimal(value, 1, lang)
    return decimal(value, 2, lang)


def _dated(value: object, skeleton: str, lang: str, *, month_text: bool) -> str:
    """``value`` (a date, a datetime or ISO text; ``YYYY-MM`` too when ``month_text``) in the
    Babel ``skeleton``; text that is not a date stays as it is, a missing value is "n/a"."""
    if value is None:
        return missing(lang)
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        text = str(value)
        try:
            value = date.fromisoformat(
                text[:10] if len(text) >= 10 or not month_text else f"{text}-01"
            )
        except ValueError:
            return text
    return format_skeleton(skeleton, value, locale=_locale(lang))


def month(value: object, lang: str = DEFAULT_LANG) -> str:
    """A period as a month: ``2026年11月`` / ``Nov 2026``; text that is not a date stays as it is."""
    return _dated(value, "yMMM", lang, month_text=True)


def day(value: object, lang: str = DEFAULT_LANG) -> str:
    """A date: ``2026年11月5日`` / ``Nov 5, 2026``."""
    return _dated(value, "yMMMd", lang, month_text=False)


class Formatter:
    """The functions above bound to one language: what templates call as ``fmt.money(v)``."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def money(self, value: object, compact: bool = False) -> str:
        return money(value, self.lang, compact=compact)

    def pct(self, value: object, decimals: int = 1) -> str:
        return pct(value, self.lang, decimals)

    def count(self, value: object) -> str:
        return count(value, self.lang)

    def num(self, value: object, decimals: int = 1) -> str:
        return decimal(value, decimals, self.lang)

    def change(self, value: object) -> str:
        return change(value, self.lang)

    def points(self, value: object) -> str:
        return points(value, self.lang)

    def metric(self, name: str, value: object) -> str:
        return metric(name, value, self.lang)

    def month(self, value: object) -> str:
        return month(value, self.lang)

    def day(self, value: object) -> str:
        return day(value, self.lang)
