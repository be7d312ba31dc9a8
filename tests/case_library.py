"""What the case library's tests share: a copy of the diagnosed web market to write consents
and action items into, and the independent recomputation of every number of a case.

The recomputation reads the raw result tables with plain DuckDB SQL (the queries below, each
named) and the operational store with plain SQL over SQLite, and redoes the formulas of
:mod:`windmaker.growth.cases` by hand, without calling the library's code:

- ``STEPS_SQL``: the ladder's one-stage promotions out of ``g_stage`` (gaps and islands over
  each brand's months; a promotion counts from the brand's ``warmup_periods``-th month on);
- ``METRICS_SQL``: a brand's ``m_brand_month`` rows over the step;
- ``SCORES_SQL``: its ``m_capability`` scores over the step;
- ``BOTTLENECK_SQL``: its rank-1 capability of ``g_bottleneck`` in the step's first month;
- ``ASSIGNMENTS_SQL`` / ``ACTIONS_SQL`` / ``MOVES_SQL``: the store's assignments, action items
  and their status moves;
- ``BRANDS_SQL``: every brand's id and name (what must never show for a brand that has not
  consented).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import shutil
import sqlite3
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from windmaker.config import Settings

STEPS_SQL = """
WITH s AS (
    SELECT brand_id, category, CAST(period AS DATE) AS period, stage,
           CASE stage WHEN 'zero_breaking' THEN 0 WHEN 'climbing' THEN 1
                      WHEN 'ka' THEN 2 WHEN 'ska' THEN 3 END AS o,
           row_number() OVER (PARTITION BY brand_id ORDER BY period) - 1 AS pos
    FROM g_stage
), r AS (
    SELECT *, CASE WHEN lag(o) OVER (PARTITION BY brand_id ORDER BY period) = o
                   THEN 0 ELSE 1 END AS new_run
    FROM s
), g AS (
    SELECT *, sum(new_run) OVER (PARTITION BY brand_id ORDER BY period) AS run FROM r
), runs AS (
    SELECT brand_id, run, min(period) AS run_start, count(*) AS run_len, min(pos) AS first_pos,
           any_value(stage) AS stage, any_value(o) AS o
    FROM g GROUP BY brand_id, run
)
SELECT a.brand_id, a.category, b.stage AS from_stage, a.stage AS to_stage,
       b.run_start AS start_period, a.period AS end_period, b.run_len AS months,
       b.first_pos = 0 AS censored
FROM g AS a JOIN runs AS b ON a.brand_id = b.brand_id AND b.run = a.run - 1
WHERE a.new_run = 1 AND a.o = b.o + 1 AND a.pos >= ?
ORDER BY a.brand_id, a.period
"""
METRICS_SQL = """
SELECT CAST(period AS DATE) AS period, * EXCLUDE (period)
FROM m_brand_month WHERE brand_id = ? AND period BETWEEN ? AND ? ORDER BY period
"""
SCORES_SQL = """
SELECT CAST(period AS DATE) AS period, capability, score
FROM m_capability WHERE brand_id = ? AND period BETWEEN ? AND ?
"""
BOTTLENECK_SQL = """
SELECT capability FROM g_bottleneck WHERE brand_id = ? AND period = ? AND rank = 1
"""
BRANDS_SQL = "SELECT brand_id, name FROM brands"
ASSIGNMENTS_SQL = """
SELECT a.provider_id, p.name, p.kind, a.started_at, a.ended_at
FROM assignments AS a JOIN providers AS p ON p.provider_id = a.provider_id
WHERE a.brand_id = ?
"""
ACTIONS_SQL = "SELECT id, action_id, period, created_at FROM action_items WHERE brand_id = ?"
MOVES_SQL = """
SELECT at, to_status FROM action_item_events
WHERE item_id = ? AND to_status IS NOT NULL ORDER BY at, id
"""
SECRET_SQL = "SELECT secret FROM case_keys WHERE id = 1"
CAPABILITIES = ("self_operation", "traffic", "distribution", "private_domain", "special_supply")
EPS = 1e-9


def copy_market(web_market: Settings, folder: Path) -> Settings:
    """A copy of the diagnosed web market (its warehouse, store and demo users) in ``folder``."""
    shutil.copytree(web_market.workspace, folder)
    return web_market.model_copy(update={"workspace": folder})


def warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(settings.workspace / "warehouse.duckdb"), read_only=True)


def store(settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(str(settings.workspace / "ops.sqlite"))


def identities(settings: Settings) -> dict[str, str]:
    """Every brand's id → name, read with ``BRANDS_SQL``."""
    with warehouse(settings) as con:
        return {str(b): str(n) for b, n in con.execute(BRANDS_SQL).fetchall()}


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _month_end(m: date) -> date:
    nxt = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


def _close(shown: float | None, exact: float | None, tolerance: float, what: str) -> None:
    if exact is None or (isinstance(exact, float) and math.isnan(exact)):
        assert shown is None, f"{what}: shown {shown}, the query has none"
        return
    assert shown is not None, f"{what}: the query has {exact}, the case shows none"
    assert abs(shown - exact) <= tolerance + EPS * max(1.0, abs(exact)), (
        f"{what}: shown {shown}, the query gives {exact} (± {tolerance})"
    )


def _number(v: Any) -> float | None:
    return None if v is None else float(v)


def _unit_kind(metric: str) -> str:
    """How an anonymous case rounds ``metric``, restated from the module docstring."""
    from windmaker.numbers import unit_of

    unit = unit_of(metric)
    if unit == "share":
        return "share"
    if unit in ("money", "count", "hours"):
        return "relative"
    return "score" if unit == "score" else "level"


def steps_by_id(settings: Settings, warmup: int) -> dict[str, tuple[Any, ...]]:
    """Every step ``STEPS_SQL`` finds, by the id the store's secret (``SECRET_SQL``) gives it:
    (brand, category, from, to, first month, month reached, months, censored)."""
    with store(settings) as ops:
        (secret,) = ops.execute(SECRET_SQL).fetchone()
    with warehouse(settings) as con:
        steps = con.execute(STEPS_SQL, [warmup]).fetchall()
    out = {}
    for brand, category, a, b, start, end, months, censored in steps:
        msg = f"{brand}|{a}|{b}|{end:%Y-%m}".encode()
        cid = "C" + hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()[:10].upper()
        out[cid] = (brand, category, a, b, _day(start), _day(end), months, censored)
    return out


def reproduce(
    case: Mapping[str, Any],
    settings: Settings,
    *,
    warmup: int,
    edges: tuple[float, ...],
    step: float,
) -> None:
    """Recompute every number of ``case`` (a case as JSON data) from the raw tables and the
    store with the queries above; fail naming the first number that differs.

    A named case must match exactly (to float precision); an anonymous one within half its
    rounding step. The case is told apart from the other steps by its id: the HMAC of each
    step the query finds, keyed with the store's secret (``SECRET_SQL``).
    """
    by_id = steps_by_id(settings, warmup)
    with warehouse(settings) as con:
        assert case["case_id"] in by_id, f"{case['case_id']} is no step of g_stage"
        brand, category, a, b, start, end, months, censored = by_id[case["case_id"]]
        named = bool(case["named"])
        assert case["brand_id"] == (brand if named else None)
        assert (case["category"], case["from_stage"], case["to_stage"]) == (category, a, b)
        assert case["step"] == f"{a}-{b}"
        assert (_day(case["start_period"]), _day(case["end_period"])) == (start, end)
        assert (case["months"], bool(case["censored"])) == (months, bool(censored))

        rows = con.execute(METRICS_SQL, [brand, start, end]).fetchdf()
        metrics = {_day(r["period"]): r for _, r in rows.iterrows()}
        size = _number(metrics[start]["net_gmv_t90d"])
        band = None if size is None else max([0] + [i for i, e in enumerate(edges) if size >= e])
        assert case["size_band"] == band
        assert case["band_low"] == (edges[band] if band is not None else None)
        if named:
            _close(case["size_gmv"], size, 0.0, "size_gmv")
        else:
            assert case["size_gmv"] is None
        scores: dict[tuple[date, str], float] = {
            (_day(p), str(c)): float(s)
            for p, c, s in con.execute(SCORES_SQL, [brand, start, end]).fetchall()
            if s is not None
        }
        bottleneck = con.execute(BOTTLENECK_SQL, [brand, start]).fetchone()

    assert case["bottleneck"] == (bottleneck[0] if bottleneck else None)
    assert [_day(m["period"]) for m in case["series"]] == sorted(metrics)
    first = metrics[start]
    for month in case["series"]:
        p = _day(month["period"])
        for cap in CAPABILITIES:
            exact = scores.get((p, cap))
            _close(month["scores"][cap], exact, 0.0 if named else 0.5, f"{p} {cap} score")
        for metric, shown in month["metrics"].items():
            raw = _number(metrics[p][metric]) if metric in metrics[p] else None
            kind = "value" if named else _unit_kind(metric)
            assert case["kinds"][metric] == kind, metric
            what = f"{p} {metric} ({kind})"
            if kind == "value":
                _close(shown, raw, 0.0, what)
            elif kind == "share":
                _close(shown, raw, 0.005, what)
            elif kind == "level":
                _close(shown, raw, 0.05, what)
            elif kind == "score":
                _close(shown, raw, 0.5, what)
            else:
                base = _number(first[metric]) if metric in first else None
                exact = None if raw is None or base is None or base <= 0 else raw / base - 1
                _close(shown, exact, step / 2, what)
    change = {
        cap: scores[(end, cap)] - scores[(start, cap)]
        if (end, cap) in scores and (start, cap) in scores
        else None
        for cap in CAPABILITIES
    }
    for cap in CAPABILITIES:
        _close(case["score_change"][cap], change[cap], 0.0 if named else 0.5, f"{cap} change")
    rising = [(v, -i, cap) for i, cap in enumerate(CAPABILITIES) if (v := change[cap]) and v > 0]
    assert case["lever"] == (max(rising)[2] if rising else None)
    g0, g1 = _number(metrics[start]["net_gmv"]), _number(metrics[end]["net_gmv"])
    gmv = g1 / g0 - 1 if g0 and g0 > 0 and g1 is not None else None
    _close(case["gmv_change"], gmv, 0.0 if named else step / 2, "gmv_change")
    _check_ops(case, settings, brand, start, end)


def _check_ops(
    case: Mapping[str, Any], settings: Settings, brand: str, start: date, end: date
) -> None:
    """The providers and actions of the step, from the store with plain SQL."""
    months = []
    m = start
    while m <= end:
        months.append(m)
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    with store(settings) as ops:
        spans: dict[str, list[tuple[date, date | None]]] = {}
        names = {}
        for pid, name, kind, s, e in ops.execute(ASSIGNMENTS_SQL, [brand]).fetchall():
            spans.setdefault(pid, []).append((_day(s), _day(e) if e else None))
            names[pid] = (name, kind)
        served = {
            pid: n
            for pid, windows in spans.items()
            if (
                n := sum(
                    1
                    for m in months
                    if any(s <= _month_end(m) and (e is None or e >= m) for s, e in windows)
                )
            )
        }
        got = {p["provider_id"]: (p["name"], p["kind"], p["months"]) for p in case["providers"]}
        assert got == {pid: (*names[pid], n) for pid, n in served.items()}
        actions = []
        for item_id, action_id, period, created in ops.execute(ACTIONS_SQL, [brand]).fetchall():
            taken = _day(period) if period else _day(created)
            taken = taken.replace(day=1)
            if not start <= taken <= end:
                continue
            status, when = None, None
            for at, to in ops.execute(MOVES_SQL, [item_id]).fetchall():
                if _moment(at).date() <= _month_end(end):
                    status, when = to, _moment(at)
            done = status == "done"
            month_done = date(when.year, when.month, 1) if done and when else None
            actions.append((action_id, taken, done, month_done))
    shown = [
        (
            a["action_id"],
            _day(a["taken"]),
            a["completed"],
            _day(a["completed_month"]) if a["completed_month"] else None,
        )
        for a in case["actions"]
    ]
    assert sorted(shown) == sorted(actions)


def no_identity(text: str, brands: Mapping[str, str], named: set[str]) -> None:
    """``text`` holds no id and no name of a brand outside ``named``."""
    for brand_id, name in brands.items():
        if brand_id in named:
            continue
        assert brand_id not in text, f"{brand_id} shows"
        if len(name) >= 2:
            assert name not in text, f"the name of {brand_id} ({name}) shows"
