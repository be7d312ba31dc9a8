"""Periods of the metric tables: day, week (Monday to Sunday), month, and the trailing windows.

Timestamps are naive Asia/Shanghai wall clock (the data contract), so a period boundary is
midnight in Shanghai on every engine: a period is the calendar date, ISO week or month of the
stored timestamp, with no time-zone arithmetic.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

Grain = Literal["day", "week", "month"]
GRAINS: tuple[Grain, ...] = ("day", "week", "month")

#: The trailing windows stored on every period row (days, ending on the period's last day).
TRAILING_DAYS = (30, 90)

_TRUNC = {"day": "D", "week": "W", "month": "M"}


def period_of(ts: ir.TimestampValue | ir.DateValue, grain: Grain) -> ir.DateValue:
    """The first day (a DATE) of the ``grain`` period holding ``ts``.

    day → the date; week → the Monday of its ISO week; month → the first of the month.
    """
    if grain == "day":
        return ts.date() if isinstance(ts, ir.TimestampValue) else ts
    out = ts.truncate(_TRUNC[grain])
    return out.date() if isinstance(out, ir.TimestampValue) else out


def period_start(d: date, grain: Grain) -> date:
    """Python twin of :func:`period_of` for one date."""
    if grain == "day":
        return d
    if grain == "week":
        return d - timedelta(days=d.weekday())
    return d.replace(day=1)


def next_period(p: date, grain: Grain) -> date:
    """The first day of the period after the one starting on ``p``."""
    if grain == "day":
        return p + timedelta(days=1)
    if grain == "week":
        return p + timedelta(days=7)
    return date(p.year + (p.month == 12), p.month % 12 + 1, 1)


def period_end(p: date, grain: Grain) -> date:
    """The last day of the period starting on ``p``."""
    return next_period(p, grain) - timedelta(days=1)


def period_range(lo: date, hi: date, grain: Grain) -> list[date]:
    """Every period start of ``grain`` from the period holding ``lo`` to the one holding ``hi``."""
    out: list[date] = []
    p = period_start(lo, grain)
    last = period_start(hi, grain)
    while p <= last:
        out.append(p)
        p = next_period(p, grain)
    return out


def period_frame(lo: date, hi: date, grain: Grain) -> pd.DataFrame:
    """Periods from ``lo`` to ``hi`` as a frame: period (first day), period_end (last day)."""
    periods = period_range(lo, hi, grain)
    return pd.DataFrame(
        {
            "period": pd.Series(periods, dtype="object"),
            "period_end": pd.Series([period_end(p, grain) for p in periods], dtype="object"),
        }
    )


def period_table(lo: date, hi: date, grain: Grain) -> ir.Table:
    """:func:`period_frame` as an Ibis table with DATE columns."""
    periods = period_range(lo, hi, grain)
    ends = [period_end(p, grain) for p in periods]
    return ibis.memtable(
        pa.table(
            {"period": pa.array(periods, pa.date32()), "period_end": pa.array(ends, pa.date32())}
        )
    )
