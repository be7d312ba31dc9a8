"""format.js in Chromium writes chart numbers exactly as windmaker.numbers does, in both languages.

The formatters are the ones ``wmFormat`` installs on an option (tooltip, value axis, bar and line
labels); the page is blank, so no server is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from windmaker import numbers

pytestmark = pytest.mark.browser

STATIC = Path(numbers.__file__).parent / "web" / "static"
LANGS = ("zh-CN", "en")
MONEY = [
    0, 0.004, 3.5, 12.345, 2.675, 0.125, 99.99, 100, 999.5, 1234.5, 9999.4, 10000, 45678.9,
    99999, 123456, 999999, 12967910, 99999999, 1.3e8, 4.5e5, 1.2e12, -5e4, -123456, -0.5,
]  # fmt: skip
SHARES = [0, 0.0004, 0.1234, 0.6534, 0.655, 0.99995, 1, 1.5, -0.021, 12.3456]
COUNTS = [0, 7, 5589, 5589.4, 99999, 100000, 123456, 9876543, 1.3e8, -250000]
SCORES = [0, 12.4, 63.5, 64.5, 99.6]


def blank(page: Page, lang: str) -> None:
    """A page in ``lang`` that says what a missing value reads, as base.html does."""
    missing = numbers.missing(lang)
    page.set_content(f'<html lang="{lang}" data-missing="{missing}"><body></body></html>')
    page.add_script_tag(path=str(STATIC / "format.js"))


def formatted(page: Page, option: dict[str, Any], values: list[Any]) -> dict[str, Any]:
    """Apply wmFormat to ``option`` and run each installed formatter on ``values``."""
    return page.evaluate(
        """([option, values]) => {
          window.wmFormat(option);
          const valueAxis = [].concat(option.xAxis, option.yAxis).find(
            a => a && a.axisLabel && a.axisLabel.formatter);
          const labelled = option.series.filter(s => s.label && s.label.formatter);
          return {
            wmLeft: "wm" in option,
            tooltip: values.map(v => option.tooltip.valueFormatter(v)),
            axis: values.map(v => valueAxis.axisLabel.formatter(v)),
            labels: values.map(v => labelled[0].label.formatter(
              {value: option.xAxis.type === "value" ? [v, "x"] : v})),
            labelledSeries: labelled.length,
            hiddenKept: option.series.some(s => s.label && s.label.show === false),
          };
        }""",
        [option, values],
    )


def bar(lang: str, kind: str, axis: str | None = None, horizontal: bool = False) -> dict[str, Any]:
    wm: dict[str, Any] = {"lang": lang, "value": kind, "labels": True}
    if axis:
        wm["axis"] = axis
    category, value = {"type": "category", "data": ["a"]}, {"type": "value"}
    return {
        "wm": wm,
        "xAxis": value if horizontal else category,
        "yAxis": category if horizontal else value,
        "series": [
            {"type": "bar", "data": [1]},
            {"type": "bar", "label": {"show": False}, "data": [1]},  # a waterfall's base
            {"type": "line", "data": [1]},
        ],
    }


@pytest.mark.parametrize("lang", LANGS)
def test_money_reads_as_numbers_money(page: Page, lang: str) -> None:
    blank(page, lang)
    got = formatted(page, bar(lang, "money"), [*MONEY, None])
    assert got["wmLeft"] is False
    assert got["tooltip"] == [numbers.money(v, lang) for v in [*MONEY, None]]
    assert got["labels"] == got["tooltip"]
    # Axes are compact: ¥13M / ¥450K in English, 万/亿 in Chinese.
    assert got["axis"] == [numbers.money(v, lang, compact=True) for v in [*MONEY, None]]
    assert got["labelledSeries"] == 2 and got["hiddenKept"] is True


def test_the_examples_people_read(page: Page) -> None:
    blank(page, "zh-CN")
    zh = formatted(page, bar("zh-CN", "money"), [12967910, 1.3e8, 5000, 3.5])
    assert zh["tooltip"] == ["¥1296.79万", "¥1.3亿", "¥5,000", "¥3.5"]
    blank(page, "en")
    en = formatted(page, bar("en", "money"), [12967910, 450000])
    assert en["tooltip"] == ["¥12,967,910", "¥450,000"]
    assert en["axis"] == ["¥13M", "¥450K"]


@pytest.mark.parametrize("lang", LANGS)
def test_shares_counts_and_scores(page: Page, lang: str) -> None:
    blank(page, lang)
    shares = formatted(page, bar(lang, "pct"), SHARES)
    assert shares["tooltip"] == [numbers.pct(v, lang) for v in SHARES]
    assert shares["axis"] == shares["tooltip"]
    blank(page, lang)
    counts = formatted(page, bar(lang, "count", horizontal=True), COUNTS)
    assert counts["tooltip"] == [numbers.count(v, lang) for v in COUNTS]
    assert counts["labels"] == counts["tooltip"]  # the value of a horizontal bar is on x
    blank(page, lang)
    scores = formatted(page, bar(lang, "score"), SCORES)
    assert scores["tooltip"] == [numbers.decimal(v, 0, lang) for v in SCORES]
    blank(page, lang)
    ratios = formatted(page, bar(lang, "num", axis="pct"), [2.345, 0.5, 1234.5678])
    assert ratios["tooltip"] == [numbers.decimal(v, 2, lang) for v in (2.345, 0.5, 1234.5678)]
    assert ratios["axis"] == [numbers.pct(v, lang) for v in (2.345, 0.5, 1234.5678)]


def test_a_drawn_chart_shows_the_formatted_labels(page: Page) -> None:
    """app.js draws a data-chart with ECharts after wmFormat: the SVG text is what people read."""
    option = {
        "wm": {"lang": "zh-CN", "value": "money", "labels": True},
        "animation": False,
        "xAxis": {"type": "category", "data": ["一月", "二月"]},
        "yAxis": {"type": "value"},
        "series": [{"type": "bar", "data": [12967910, 130000000]}],
    }
    page.set_content(
        '<html lang="zh-CN" data-missing="暂无"><body>'
        f'<div class="chart" style="width:600px;height:300px" data-chart=\'{json.dumps(option)}\'>'
        "</div></body></html>"
    )
    for script in ("vendor/echarts.min.js", "format.js", "app.js"):
        page.add_script_tag(path=str(STATIC / script))
    page.evaluate("drawCharts(document)")
    text = page.locator(".chart svg").text_content() or ""
    assert "¥1296.79万" in text and "¥1.3亿" in text
    assert "12967910" not in text
