"""The one formatter: money in 万/亿 (zh-CN) and with separators (English), shares as
percentages, whole counts, each metric in its own unit."""

from __future__ import annotations

import pytest

from windmaker import numbers


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        (3.5, "¥3.5", "¥3.5"),
        (1234, "¥1,234", "¥1,234"),
        (69646.40313049138, "¥6.96万", "¥69,646"),
        (12967910.4, "¥1296.79万", "¥12,967,910"),
        (129679100, "¥1.3亿", "¥129,679,100"),
        (-69646.4, "-¥6.96万", "-¥69,646"),
        (None, "暂无", "n/a"),
        (float("nan"), "暂无", "n/a"),
    ],
)
def test_money_reads_in_the_readers_units(value: object, zh: str, en: str) -> None:
    assert numbers.money(value, "zh-CN") == zh
    assert numbers.money(value, "en") == en


def test_compact_money_for_axes() -> None:
    assert numbers.money(12967910, "en", compact=True) == "¥13M"
    assert numbers.money(450_000, "en", compact=True) == "¥450K"


def test_each_metric_in_its_own_unit() -> None:
    assert numbers.metric("repurchase_rate_90d", 0.653, "en") == "65.3%"
    assert numbers.metric("self_share", 0.4, "zh-CN") == "40%"
    assert numbers.metric("at_risk_buyers", 5589.000, "en") == "5,589"
    assert numbers.metric("net_gmv", 69646.4, "zh-CN") == "¥6.96万"
    assert numbers.metric("roas", 2.3456, "en") == "2.35"
    assert numbers.metric("live_hours", 12.04, "zh-CN") == "12小时"
    assert numbers.metric("min_score", 61.6, "en") == "62"
    assert numbers.unit_of("orders") == "count"
    assert numbers.unit_of("no_such_metric") == "number"


def test_changes_are_signed_and_capped() -> None:
    assert numbers.change(0.38, "en") == "+38%"
    assert numbers.change(-0.021, "en") == "-2.1%"
    assert numbers.change(20998.0, "en") == ">+1,000%"
    assert numbers.points(0.13, "zh-CN") == "+13个百分点"


def test_counts_are_whole() -> None:
    assert numbers.count(5589.0, "en") == "5,589"
    assert numbers.count(1_234_567, "en") == "1,234,567"
    assert numbers.count(1_234_567, "zh-CN") == "123.5万"


def test_months_and_days() -> None:
    assert numbers.month("2026-11-01", "zh-CN") == "2026年11月"
    assert numbers.month("2026-11", "en") == "Nov 2026"
    assert numbers.day("2026-11-05", "en") == "Nov 5, 2026"
