"""ECharts options for the charts of the pages and the reports, built from read-model rows
(pure functions).

What a chart shows a reader (series and legend names, axis and category labels, node names)
is a catalogue word in the page's language, never a code; what it plots is rounded (money to
the fen, shares and indices to 4 decimals, scores to 0.1), since a tooltip prints the number
as it is.
"""

from __future__ import annotations

from typing import Any

from windmaker import numbers
from windmaker.codes import Capability, Stage
from windmaker.i18n import name, t
from windmaker.numbers import month


def radar(data: dict[str, Any], lang: str) -> dict[str, Any]:
    """STEPS radar: the brand's scores against the category median and the next stage's median.

    Axes run in the method's S-T-E-P-S order on a 0–100 scale whose rings (0, 20 … 100) are
    labelled; tooltips and ring labels are formatted as scores by the page (``wm``).
    """
    order = {c: i for i, c in enumerate(Capability)}
    idx = sorted(range(len(data["capabilities"])), key=lambda i: order[data["capabilities"][i]])
    indicators = [
        {"name": t(f"capability.{data['capabilities'][i]}", lang), "min": 0, "max": 100}
        for i in idx
    ]

    def series(name: str, values: list[float | None]) -> dict[str, Any]:
        ordered = [values[i] if i < len(values) else None for i in idx]
        return {"name": name, "value": [round(v, 1) if v is not None else 0 for v in ordered]}

    lines = [
        ("label.brand", data["brand"]),
        ("label.category_median", data["category_median"]),
        ("label.next_stage_median", data["next_stage_median"]),
    ]
    return {
        "wm": {"lang": lang, "value": "score"},
        "legend": {"bottom": 0},
        "tooltip": {"trigger": "item"},
        "radar": {
            "indicator": indicators,
            "radius": "62%",
            "splitNumber": 5,
            "axisLabel": {"show": True, "fontSize": 9, "color": "#888", "showMinLabel": False},
            "splitLine": {"show": True},
            "splitArea": {"show": True},
        },
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
    money = bool(metrics) and all(numbers.unit_of(m) == "money" for m in metrics)
    partial = bool(rows) and bool(rows[-1].get("to_date"))
    if partial:
        periods[-1] += " " + t("label.to_date_days", lang, days=int(rows[-1]["days_covered"]))
    series: list[dict[str, Any]] = []
    for i, m in enumerate(metrics):
        values = [_num(r.get(m)) for r in rows]
        if money:  # whole yuan: a tooltip shows what it is given
            values = [None if v is None else float(round(v)) for v in values]
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
        **({"wm": {"lang": lang, "value": "money"}} if money else {}),
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


#: Colours of the waterfall's bars: the two totals, a driver that raised GMV, one that cut it.
_WATERFALL_COLOURS = {"total": "#5470c6", "up": "#3ba272", "down": "#ee6666"}


def waterfall(
    parts: list[tuple[str, float]],
    start: float,
    lang: str,
    compared_days: int | None = None,
    ends: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Period-over-period GMV change split into its drivers, as a waterfall. A month to date
    (``compared_days``) starts from the same days of the month before; ``ends`` names the
    first and last bars (the two months).

    Every bar carries its label as text formatted by :mod:`windmaker.numbers` (a driver's
    signed: ``-¥6.96万``), values are whole yuan, and ``wm`` formats tooltips and the axis.
    """
    if ends is not None:
        labels = [ends[0]]
    elif compared_days:
        labels = [t("label.same_days_before", lang, days=compared_days)]
    else:
        labels = [t("label.period", lang) + " −1"]

    def bar(value: float, shown: float, kind: str) -> dict[str, Any]:
        text = numbers.money(round(shown), lang)
        return {
            "value": round(value),
            "itemStyle": {"color": _WATERFALL_COLOURS[kind]},
            "label": {
                "show": True,
                "position": "top",
                "formatter": "+" + text if kind == "up" else text,
            },
        }

    base: list[float] = [0.0]
    values = [bar(start, start, "total")]
    level = start
    for label, value in parts:
        labels.append(label)
        base.append(float(round(min(level, level + value))))
        values.append(bar(abs(value), value, "up" if value >= 0 else "down"))
        level += value
    if ends is not None:
        labels.append(ends[1])
    else:
        labels.append(t("label.to_date", lang) if compared_days else t("label.period", lang))
    base.append(0.0)
    values.append(bar(level, level, "total"))
    return {
        "wm": {"lang": lang, "value": "money", "labels": True},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 70, "right": 20, "top": 30, "bottom": 40},
        "xAxis": {"type": "category", "data": labels, "axisLabel": {"interval": 0}},
        "yAxis": {"type": "value", "name": t("brandmodels.waterfall.axis", lang)},
        "series": [
            {
                "type": "bar",
                "stack": "w",
                "data": base,
                "itemStyle": {"color": "transparent"},
                "label": {"show": False},
                "tooltip": {"show": False},
                "silent": True,
            },
            {
                "name": t("brandmodels.waterfall.series", lang),
                "type": "bar",
                "stack": "w",
                "data": values,
            },
        ],
    }


def stage_distribution(rows: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """Brands per stage and month, stacked (the ladder's order, lowest at the bottom).

    ``rows`` are the read model's ``period, stage, brands`` counts of the caller's scope. A
    period may arrive as a date, a timestamp or text: it is keyed by its day, so one month is
    one bar whatever the type. Months are labelled as words; a stage no brand of the scope
    reached is left out of the legend instead of drawn as an empty series.
    """
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        if r.get("stage") is None or r.get("brands") is None:
            continue
        by_stage = counts.setdefault(str(r["period"])[:10], {})
        by_stage[str(r["stage"])] = by_stage.get(str(r["stage"]), 0) + int(r["brands"])
    periods = sorted(counts)
    series = [
        {
            "name": name("stage", stage, lang),
            "type": "bar",
            "stack": "s",
            "barMaxWidth": 36,
            "data": [counts[p].get(stage, 0) for p in periods],
        }
        for stage in Stage
        if any(counts[p].get(stage, 0) for p in periods)
    ]
    return {
        "wm": {"lang": lang, "value": "count"},
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "type": "scroll"},
        "grid": {"left": 10, "right": 10, "top": 30, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": [month(p, lang) for p in periods]},
        "yAxis": {"type": "value", "name": t("ecosystem.brands_axis", lang), "minInterval": 1},
        "series": series,
    }


#: Height of a Sankey chart: a floor, then this many pixels per node of its taller column.
SANKEY_MIN_HEIGHT = 260
SANKEY_NODE_HEIGHT = 70


def flows(
    rows: list[dict[str, Any]], lang: str, start: Any = None, end: Any = None
) -> dict[str, Any]:
    """Sankey of where brands went between two months (``start`` → ``end``): each brand counted
    once, from its stage in the first month to its stage in the last, stayers included.

    Only stages that hold a brand are nodes; each side names its month, so the two columns
    read apart. Its container is :func:`flow_height` pixels high, so no node is squeezed at
    phone width.
    """
    before = t("ecosystem.flow_side", lang, month=month(start, lang)) if start else ""
    after = t("ecosystem.flow_side", lang, month=month(end, lang)) if end else " "
    if before == after:
        after += " "

    def node(stage: str, side: str) -> str:
        return (
            f"{name('stage', stage, lang)} · {side}"
            if side.strip()
            else name("stage", stage, lang) + side
        )

    links = [
        {
            "source": node(str(r["source"]), before),
            "target": node(str(r["target"]), after),
            "value": int(r["brands"]),
        }
        for r in rows
        if r.get("brands")
    ]
    left = [s for s in Stage if any(str(r["source"]) == s and r.get("brands") for r in rows)]
    right = [s for s in Stage if any(str(r["target"]) == s and r.get("brands") for r in rows)]
    nodes = [{"name": node(s, before), "depth": 0} for s in left]
    nodes += [{"name": node(s, after), "depth": 1} for s in right]
    return {
        "wm": {"lang": lang, "value": "count"},
        "tooltip": {"trigger": "item"},
        "series": [
            {
                "type": "sankey",
                "data": nodes,
                "links": links,
                "left": 8,
                "right": 8,
                "top": 10,
                "bottom": 10,
                "nodeWidth": 14,
                "nodeGap": 18,
                "nodeAlign": "justify",
                "layoutIterations": 0,
                "label": {"position": "insideLeft", "fontSize": 12},
                "levels": [{"depth": 1, "label": {"position": "insideRight"}}],
                "lineStyle": {"color": "gradient", "opacity": 0.35},
                "emphasis": {"focus": "adjacency"},
            }
        ],
    }


def flow_height(option: dict[str, Any]) -> int:
    """Pixels for a Sankey's container: a floor, then a fixed height per node of its taller
    column (the chart is as tall as its stages need, at laptop and phone width alike)."""
    nodes = option["series"][0]["data"]
    tallest = max(
        sum(1 for n in nodes if n["depth"] == 0), sum(1 for n in nodes if n["depth"] == 1), 1
    )
    return max(SANKEY_MIN_HEIGHT, SANKEY_NODE_HEIGHT * tallest + 60)


def tier_progress(tiers: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """Providers at or above each tier of the windmaker plan against the plan's target
    (``tiers``: the tier's name in ``lang``, count, target)."""
    names = [str(x["tier"]) for x in tiers]
    return {
        "wm": {"lang": lang, "value": "count", "labels": True},
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "grid": {"left": 10, "right": 10, "top": 20, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": names},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {
                "name": t("label.providers_count", lang),
                "type": "bar",
                "barMaxWidth": 40,
                "data": [x["count"] for x in tiers],
            },
            {
                "name": t("label.target_count", lang),
                "type": "bar",
                "barMaxWidth": 40,
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


def belt_bars(rows: list[dict[str, Any]], lang: str, top: int = 12) -> dict[str, Any]:
    """The largest industrial belts (region × category) by their goods' net GMV, largest on
    top (``rows``: the read model's belts, largest first)."""
    shown = list(reversed(rows[:top]))
    labels = [f"{r['region']} · {name('category', r['category'], lang)}" for r in shown]
    return {
        "wm": {"lang": lang, "value": "money", "labels": True},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 10, "right": 40, "top": 10, "bottom": 10, "containLabel": True},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": labels},
        "series": [
            {
                "name": t("factory.net_gmv", lang),
                "type": "bar",
                "barMaxWidth": 22,
                "data": [_money(float(r["net_gmv"] or 0.0)) for r in shown],
            }
        ],
    }


def tier_forecast(tiers: list[dict[str, Any]], lang: str, interval: float) -> dict[str, Any]:
    """Providers at or above each tier line of the windmaker plan: now, and at year-end without
    and with an allocation, each as its central ``interval`` (a bar from the low count to the
    high one, labelled ``median (low–high)``).

    ``tiers``: the tier's name in ``lang``, ``now``, and ``without`` / ``with`` each holding
    ``median``, ``low`` and ``high``. The interval's bars stand on a transparent base (the low
    count), as the waterfall's do; every label and tooltip is text from :mod:`windmaker.numbers`.
    """
    share = numbers.pct(interval, lang, 0)

    def text(x: dict[str, Any]) -> str:
        return t(
            "plan.range",
            lang,
            median=numbers.count(x["median"], lang),
            low=numbers.count(x["low"], lang),
            high=numbers.count(x["high"], lang),
        )

    names = {
        key: t("plan.chart.interval", lang, scenario=t(f"plan.{key}", lang), interval=share)
        for key in ("without", "with")
    }

    def scenario(key: str, colour: str) -> list[dict[str, Any]]:
        name_ = names[key]
        return [
            {
                "type": "bar",
                "stack": key,
                "data": [int(x[key]["low"]) for x in tiers],
                "itemStyle": {"color": "transparent"},
                "label": {"show": False},
                "tooltip": {"show": False},
                "silent": True,
            },
            {
                "name": name_,
                "type": "bar",
                "stack": key,
                "barMaxWidth": 36,
                "itemStyle": {"color": colour},
                "data": [
                    {
                        "value": int(x[key]["high"]) - int(x[key]["low"]),
                        "label": {"show": True, "position": "top", "formatter": text(x[key])},
                        "tooltip": {"formatter": f"{x['tier']}<br>{name_}: {text(x[key])}"},
                    }
                    for x in tiers
                ],
            },
        ]

    now = t("plan.now", lang)
    return {
        "wm": {"lang": lang, "value": "count"},
        "tooltip": {"trigger": "item"},
        # the interval bars' transparent bases have no name, and no entry in the legend
        "legend": {"bottom": 0, "data": [now, names["without"], names["with"]]},
        "grid": {"left": 10, "right": 10, "top": 30, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": [str(x["tier"]) for x in tiers]},
        "yAxis": {"type": "value", "minInterval": 1, "name": t("plan.chart.axis", lang)},
        "series": [
            {
                "name": now,
                "type": "bar",
                "barMaxWidth": 36,
                "itemStyle": {"color": "#91a7c9"},
                "data": [
                    {
                        "value": int(x["now"]),
                        "label": {
                            "show": True,
                            "position": "top",
                            "formatter": numbers.count(x["now"], lang),
                        },
                        "tooltip": {
                            "formatter": f"{x['tier']}<br>{now}: {numbers.count(x['now'], lang)}"
                        },
                    }
                    for x in tiers
                ],
            },
            *scenario("without", "#c4ccd3"),
            *scenario("with", "#5470c6"),
        ],
    }
