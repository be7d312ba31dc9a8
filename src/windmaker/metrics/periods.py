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

#: The trailing windows stored on every period row (days, ending on the period's as-of day).
TRAILING_DAYS = (30, 90)
#: Coverage columns of every period row: the last day the data covers in the period (its as-of
#: day), the days of the period the data covers, and whether the period is still open ("to date",
#: 本月至今: the data ends before the period's last calendar day).
COVERAGE_COLUMNS = ("as_of", "days_covered", "to_date")

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


def period_frame(lo: date, hi: date, grain: Grain, data_start: date | None = None) -> pd.DataFrame:
    """Periods from ``lo`` to ``hi`` as a frame, with the data's coverage of each.

    Columns: period (first day), period_end (the as-of day: the period's last calendar day, or
    ``hi`` when the data ends inside the period), days_covered (days of the period from
    ``data_start``, default ``lo``, to the as-of day) and to_date (the data ends before the
    period does). Exports end mid-month, so the last period's windows must end where the data
    ends, not on a calendar day no row reaches.
    """
    first = data_start or lo
    periods = period_range(lo, hi, grain)
    ends = [min(period_end(p, grain), hi) for p in periods]
    return pd.DataFrame(
        {
            "period": pd.Series(periods, dtype="object"),
            "period_end": pd.Series(ends, dtype="object"),
            "days_covered": pd.Series(
                [(e - max(p, first)).days + 1 for p, e in zip(periods, ends, strict=True)],
                dtype="int64",
            ),
            "to_date": pd.Series(
                [e < period_end(p, grain) for p, e in zip(periods, ends, strict=True)],
                dtype="bool",
            ),
        }
    )


def period_table(lo: date, hi: date, grain: Grain, data_start: date | None = None) -> ir.Table:
    """:func:`period_frame` as an Ibis table with DATE columns."""
    f = period_frame(lo, hi, grain, data_start)
    return ibis.memtable(
        pa.table(
            {
                "period": pa.array(f["period"].tolist(), pa.date32()),
                "period_end": pa.array(f["period_end"].tolist(), pa.date32()),
                "days_covered": pa.array(f["days_covered"].tolist(), pa.int64()),
                "to_date": pa.array(f["to_date"].tolist(), pa.bool_()),
            }
        )
    )
