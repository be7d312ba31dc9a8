"""ECharts options for the charts of the pages and the reports, built from read-model rows
(pure functions).

What a chart shows a reader (series and legend names, axis and category labels, node names)
is a catalogue word in the page's language, never a code; what it plots is rounded (money to
the fen, shares and indices to 4 decimals, scores to 0.1), since a tooltip prints the number
as it is.
"""

from __future__ import annotations

from typing import Any

from windmaker.codes import Stage
from windmaker.i18n import name, t


def radar(data: dict[str, Any], lang: str) -> dict[str, Any]:
    """STEPS radar: the brand's scores against the category median and the next stage's median."""
    indicators = [{"name": t(f"capability.{c}", lang), "max": 100} for c in data["capabilities"]]

    def series(name: str, values: list[float | None]) -> dict[str, Any]:
        return {"name": name, "value": [round(v, 1) if v is not None else 0 for v in values]}

    lines = [
        ("label.brand", data["brand"]),
        ("label.category_median", data["category_median"]),
        ("label.next_stage_median", data["next_stage_median"]),
    ]
    return {
        "legend": {"bottom": 0},
        "tooltip": {},
        "radar": {"indicator": indicators, "radius": "62%"},
        "series": [
            {
                "type": "radar",
                # a median withheld from a brand user (too few brands) is left out, not drawn as 0
                "data": [
                    series(t(key, lang), values)
                    for key, values in lines
                    if key == "label.brand" or any(v is not None for v in values)
                ],
            }
        ],
    }


#: Line colours of the trend, so a month to date's dashed segment matches its metric's line.
_PALETTE = ("#5470c6", "#91cc75", "#3b3f5c", "#fc8452", "#73c0de", "#9a60b4")


def trend(rows: list[dict[str, Any]], metrics: list[str], lang: str) -> dict[str, Any]:
    """Monthly lines of a few metrics.

    A month the data ends inside holds only its first days: its point is labelled "to date" and
    joined to the month before by a dashed segment, so a partial month does not read as a fall.
    """
    periods = [str(r["period"])[:7] for r in rows]
    partial = bool(rows) and bool(rows[-1].get("to_date"))
    if partial:
        periods[-1] += " " + t("label.to_date_days", lang, days=int(rows[-1]["days_covered"]))
    series: list[dict[str, Any]] = []
    for i, m in enumerate(metrics):
        values = [_num(r.get(m)) for r in rows]
        color = _PALETTE[i % len(_PALETTE)]
        whole = [*values[:-1], None] if partial else values
        label = name("metric", m, lang)
        series.append(
            {"name": label, "type": "line", "data": whole, "smooth": True, "color": color}
        )
        if partial:
            tail = [*([None] * (len(values) - 2)), *values[-2:]]
            series.append(
                {
                    "name": label,
                    "type": "line",
                    "data": tail,
                    "color": color,
                    "lineStyle": {"type": "dashed"},
                }
            )
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "grid": {"left": 60, "right": 20, "top": 20, "bottom": 50},
        "xAxis": {"type": "category", "data": periods},
        "yAxis": {"type": "value"},
        "series": series,
    }


def bottleneck_bars(rows: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """Gap of each capability to the brands that made the next step (largest first).

    A capability at or above its reference (gap ≤ 0) is no weakness: it gets no bar.
    """
    rows = sorted(rows, key=lambda r: r.get("rank") or 0, reverse=True)
    gaps = [_num(r.get("gap")) for r in rows]
    return {
        "tooltip": {},
        "grid": {"left": 110, "right": 30, "top": 10, "bottom": 30},
        "xAxis": {"type": "value"},
        "yAxis": {
            "type": "category",
            "data": [name("capability", r["capability"], lang) for r in rows],
        },
        "series": [{"type": "bar", "data": [None if g is None else max(g, 0.0) for g in gaps]}],
    }


def waterfall(
    parts: list[tuple[str, float]], start: float, lang: str, compared_days: int | None = None
) -> dict[str, Any]:
    """Period-over-period GMV change split into its drivers, as a waterfall. A month to date
    (``compared_days``) starts from the same days of the month before."""
    if compared_days:
        labels = [t("label.same_days_before", lang, days=compared_days)]
    else:
        labels = [t("label.period", lang) + " −1"]
    base, values = [0.0], [_money(start)]
    level = start
    for label, value in parts:
        labels.append(label)
        base.append(_money(min(level, level + value)))
        values.append(_money(abs(value)))
        level += value
    labels.append(t("label.to_date", lang) if compared_days else t("label.period", lang))
    base.append(0.0)
    values.append(_money(level))
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 70, "right": 20, "top": 20, "bottom": 40},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": {"type": "value"},
        "series": [
            {"type": "bar", "stack": "w", "data": base, "itemStyle": {"color": "transparent"}},
            {"type": "bar", "stack": "w", "data": values},
        ],
    }


def stage_distribution(rows: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    periods = sorted({str(r["period"]) for r in rows})
    series = []
    for stage in Stage:
        by_period = {str(r["period"]): r["brands"] for r in rows if r["stage"] == stage}
        series.append(
            {
                "name": name("stage", stage, lang),
                "type": "bar",
                "stack": "s",
                "data": [by_period.get(p, 0) for p in periods],
            }
        )
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "grid": {"left": 50, "right": 20, "top": 20, "bottom": 50},
        "xAxis": {"type": "category", "data": periods},
        "yAxis": {"type": "value"},
        "series": series,
    }


def flows(rows: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """Sankey of moves between stages."""
    # the period's end repeats each stage with a trailing space: a sankey node is its name
    nodes = [{"name": name("stage", s, lang)} for s in Stage]
    links = [
        {
            "source": name("stage", r["source"], lang),
            "target": name("stage", r["target"], lang) + " ",
            "value": r["brands"],
        }
        for r in rows
    ]
    nodes += [{"name": name("stage", s, lang) + " "} for s in Stage]
    return {
        "tooltip": {},
        "series": [
            {"type": "sankey", "data": nodes, "links": links, "emphasis": {"focus": "adjacency"}}
        ],
    }


def tier_progress(tiers: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """Providers at or above each tier of the windmaker plan against the plan's target
    (``tiers``: the tier's name in ``lang``, count, target)."""
    names = [str(x["tier"]) for x in tiers]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "grid": {"left": 60, "right": 20, "top": 20, "bottom": 50},
        "xAxis": {"type": "category", "data": names},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": t("label.providers_count", lang),
                "type": "bar",
                "data": [x["count"] for x in tiers],
            },
            {
                "name": t("label.target_count", lang),
                "type": "bar",
                "data": [x["target"] for x in tiers],
            },
        ],
    }


def curve(xs: list[float], ys: list[float], x_name: str, y_name: str) -> dict[str, Any]:
    """A line through ``(xs, ys)``; the axis names are the caller's words in the page's language."""
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 70, "right": 20, "top": 20, "bottom": 40},
        "xAxis": {"type": "value", "name": x_name},
        "yAxis": {"type": "value", "name": y_name},
        "series": [
            {
                "type": "line",
                "showSymbol": False,
                "data": [[_num(x), _num(y)] for x, y in zip(xs, ys, strict=True)],
            }
        ],
    }


def _money(value: float) -> float:
    """RMB to the fen."""
    return round(float(value), 2)


def _num(value: Any) -> float | None:
    try:
        return None if value is None else round(float(value), 4)
    except (TypeError, ValueError):
        return None
