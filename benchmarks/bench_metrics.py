"""Metrics engine speed: full and incremental refresh, Ibis overhead, pandas, peak memory.

A market of N orders (default 20 million over 12 months; ``WINDMAKER_BENCH_METRICS_ROWS``
overrides, e.g. 100000000) with 1,000 brands in 10 categories, 8,000 accounts, 20,000 SKUs,
480,000 live sessions, daily ad spend, a review for one order in ten and 2 million follows is
generated inside DuckDB with the contract's exact schema (the simulator's planted behaviour does
not change the work the engine does; generating in SQL keeps the run short). The last day of
orders, sessions and reviews is held back for the incremental refresh.

Every measurement runs in its own process so peak memory is the resident set size of that
process tree (psutil, sampled every 50 ms). Measured in the same run:

- **floor**: one raw DuckDB query computing per brand × month net GMV, order count and distinct
  buyers — the irreducible high-cardinality aggregation (it and the incremental refresh run
  ``WINDMAKER_BENCH_METRICS_REPEATS`` times, default 3, and their medians are compared);
- **full refresh** of every metric table (target ≤ 10× floor);
- **incremental refresh** after one new day (target ≤ 1× floor);
- **Ibis vs SQL**: the month-level metric set through Ibis against the same set hand-written in
  DuckDB SQL (target ≤ 1.1×);
- **pandas**: the month-level order metrics as an analyst would write them in pandas
  (load the needed columns, group-by, shift for repeat purchases).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROWS = int(os.environ.get("WINDMAKER_BENCH_METRICS_ROWS", "20000000"))
PANDAS_MAX_ROWS = int(os.environ.get("WINDMAKER_BENCH_METRICS_PANDAS_MAX", "40000000"))
THREADS = 2
#: DuckDB's buffer limit. The process also holds Python, Arrow and the allocator's caches (about
#: 0.6 GiB at 100M orders), so 5GB keeps the whole process tree within the 6 GiB target.
MEMORY_LIMIT = os.environ.get("WINDMAKER_BENCH_METRICS_MEMORY", "5GB")
#: Runs of the floor and of the one-day refresh (medians compared).
REPEATS = int(os.environ.get("WINDMAKER_BENCH_METRICS_REPEATS", "3"))
START = "2025-11-01"
CUTOFF = "2026-10-31"  # the held-back day
SECONDS = 365 * 86400

GENERATE = [
    "CREATE OR REPLACE MACRO hb(x) AS (hash(x) % 1000000007)::BIGINT",
    """INSERT INTO brands SELECT 'B' || i, 'brand ' || i, 'cat' || (i % 10),
        CASE WHEN i % 3 = 0 THEN 'factory_upgraded' ELSE 'traditional' END,
        TIMESTAMP '2025-01-01' + INTERVAL (i % 400) DAY FROM range(1000) t(i)""",
    """INSERT INTO accounts SELECT 'A' || i,
        CASE WHEN i < 1000 THEN 'brand_main' WHEN i < 3000 THEN 'brand_matrix' ELSE 'influencer' END,
        CASE WHEN i < 3000 THEN 'B' || (i % 1000) END, 'account ' || i, 'cat' || (i % 10),
        (hb(i) % 1000000)::BIGINT, TIMESTAMP '2024-01-01' FROM range(8000) t(i)""",
    """INSERT INTO skus SELECT 'S' || i, 'B' || (i // 20), NULL, 'cat' || ((i // 20) % 10),
        (10 + i % 500)::DECIMAL(18,2), i % 20 = 0, TIMESTAMP '2025-01-01' FROM range(20000) t(i)""",
    """CREATE TABLE stg_sessions AS SELECT 'L' || i AS session_id, 'A' || (i % 8000) AS account_id,
        TIMESTAMP '{start}' + INTERVAL ((i // 8000) * 6) DAY + INTERVAL (8 + i % 12) HOUR AS started_at,
        TIMESTAMP '{start}' + INTERVAL ((i // 8000) * 6) DAY + INTERVAL (10 + i % 12) HOUR AS ended_at,
        (100 + hb(i) % 20000)::BIGINT AS viewers, (6000 + hb(i * 3) % 2000000)::BIGINT AS watch_seconds,
        CASE WHEN i % 8000 >= 3000 AND i % 7 = 0 THEN 'B' || (hb(i * 5) % 1000) END AS dedicated_brand_id
        FROM range(480000) t(i)""",
    """CREATE TABLE stg_orders AS
        WITH g AS (
            SELECT i, (hb(i * 7) % 3000000) AS u, hb(i) AS h,
                   (i * {seconds} // {rows}) AS sec FROM range({rows}) t(i)
        ), b AS (
            SELECT *, ((u * 7 + h % 3) % 1000) AS brand, sec // 86400 AS day FROM g
        ), a AS (
            SELECT *, CASE WHEN h % 2 = 0 THEN brand + 1000 * ((h // 2) % 3)
                           ELSE 3000 + (hb(i * 19) % 5000) END AS acct
            FROM b
        )
        SELECT 'O' || i AS order_id, TIMESTAMP '{start}' + INTERVAL (sec) SECOND AS paid_at,
            'B' || brand AS brand_id, 'S' || (brand * 20 + hb(i * 17) % 20) AS sku_id,
            'A' || acct AS account_id,
            CASE WHEN h % 10 < 7 AND day // 6 < 60 THEN 'L' || (acct + 8000 * (day // 6)) END AS session_id,
            'U' || u AS buyer_id,
            ['recommend', 'paid', 'follow', 'search', 'other'][1 + (h // 7) % 5] AS traffic_source,
            1::BIGINT AS quantity,
            ((h // 11) % 50000 / 100.0 + 1)::DECIMAL(18,2) AS amount,
            0::DECIMAL(18,2) AS commission,
            CASE WHEN (h // 13) % 20 = 0 THEN 'cancelled' WHEN (h // 13) % 20 < 3 THEN 'refunded'
                 ELSE 'completed' END AS status,
            CASE WHEN (h // 13) % 20 BETWEEN 1 AND 2 THEN ((h // 11) % 50000 / 100.0 + 1)
                 ELSE 0 END::DECIMAL(18,2) AS refund_amount,
            CASE WHEN (h // 13) % 20 BETWEEN 1 AND 2 THEN TIMESTAMP '{start}' + INTERVAL (sec + 86400) SECOND END AS refunded_at,
            TIMESTAMP '{start}' + INTERVAL (sec + 172800) SECOND AS promised_ship_by,
            TIMESTAMP '{start}' + INTERVAL (sec + (h // 17) % 259200) SECOND AS shipped_at
        FROM a""",
    """INSERT INTO ad_spend SELECT (DATE '{start}' + INTERVAL (d) DAY)::DATE, 'B' || b, 'C' || b,
        'A' || b, ((hb(b * 1000 + d) % 100000) / 100.0)::DECIMAL(18,2), 10000, 300
        FROM range(365) t1(d), range(1000) t2(b)""",
    """CREATE TABLE stg_reviews AS SELECT 'R' || order_id AS review_id, order_id,
        paid_at + INTERVAL 2 DAY AS created_at, (1 + hb(order_id) % 5)::BIGINT AS score,
        ['none', 'none', 'none', 'quality', 'misleading', 'shipping'][1 + hb(order_id) % 6] AS complaint
        FROM stg_orders WHERE hb(order_id) % 10 = 0""",
    """INSERT INTO follows SELECT DISTINCT 'U' || (hb(i) % 3000000), 'A' || (i % 3000),
        TIMESTAMP '{start}' + INTERVAL (i * 15 % {seconds}) SECOND FROM range(2000000) t(i)""",
]
HELD = {"orders": "paid_at", "live_sessions": "started_at", "reviews": "created_at"}
STAGING = {"orders": "stg_orders", "live_sessions": "stg_sessions", "reviews": "stg_reviews"}

FLOOR_SQL = """
SELECT brand_id, date_trunc('month', paid_at) AS period,
       sum(amount - refund_amount) AS net_gmv, count(*) AS orders, count(DISTINCT buyer_id) AS buyers
FROM orders WHERE status <> 'cancelled' GROUP BY ALL
"""

# The month-level metric set, hand-written: what brand_period_metrics(grain="month") computes.
MONTH_SQL = """
WITH o AS (
    SELECT paid_at, brand_id, sku_id, account_id, session_id, buyer_id, traffic_source, amount,
           refund_amount, promised_ship_by, shipped_at,
           lag(paid_at) OVER (PARTITION BY brand_id, buyer_id ORDER BY paid_at, order_id) AS prev
    FROM orders WHERE status <> 'cancelled'
), f AS (
    SELECT o.brand_id, o.buyer_id, o.account_id, o.sku_id, o.session_id, o.traffic_source,
           o.amount, o.refund_amount, o.amount - o.refund_amount AS net,
           coalesce(a.kind IN ('brand_main', 'brand_matrix'), false) AS is_self,
           coalesce(a.kind = 'influencer', false) AS is_inf,
           coalesce(s.special_supply, false) AS is_special,
           coalesce(ls.dedicated_brand_id = o.brand_id, false) AS is_ded,
           o.promised_ship_by IS NOT NULL AND o.shipped_at IS NOT NULL AS checked,
           coalesce(o.shipped_at > o.promised_ship_by, false) AS late,
           coalesce(o.paid_at > o.prev AND o.paid_at <= o.prev + INTERVAL 90 DAY, false) AS r90,
           coalesce(o.paid_at > o.prev AND o.paid_at <= o.prev + INTERVAL 180 DAY, false) AS r180,
           date_trunc('month', o.paid_at)::DATE AS period
    FROM o LEFT JOIN accounts a ON o.account_id = a.account_id
           LEFT JOIN skus s ON o.sku_id = s.sku_id
           LEFT JOIN live_sessions ls ON o.session_id = ls.session_id
), main AS (
    SELECT brand_id, period, sum(net) AS net_gmv, sum(amount) AS gross_gmv, count(*) AS orders,
           count(DISTINCT buyer_id) AS buyers,
           sum(net) FILTER (is_self) AS self_gmv,
           sum(net) FILTER (is_self AND session_id IS NOT NULL) AS self_live_gmv,
           sum(net) FILTER (traffic_source IN ('recommend', 'paid')) AS public_gmv,
           sum(net) FILTER (traffic_source = 'paid') AS paid_gmv,
           sum(net) FILTER (traffic_source = 'recommend') AS recommend_gmv,
           sum(net) FILTER (traffic_source = 'search') AS search_gmv,
           sum(net) FILTER (traffic_source = 'other') AS other_gmv,
           sum(net) FILTER (is_inf) AS distribution_gmv,
           count(DISTINCT account_id) FILTER (is_inf) AS active_influencers,
           sum(net) FILTER (is_ded) AS dedicated_gmv,
           sum(net) FILTER (traffic_source = 'follow') AS follower_gmv,
           count(DISTINCT buyer_id) FILTER (r90) AS repeat_buyers_90d,
           count(DISTINCT buyer_id) FILTER (r180) AS repeat_buyers_180d,
           sum(net) FILTER (is_special) AS special_supply_gmv,
           count(DISTINCT sku_id) FILTER (is_special) AS special_supply_skus,
           count(*) FILTER (refund_amount > 0) AS refunded_orders,
           count(*) FILTER (checked) AS ship_checked,
           count(*) FILTER (late) AS late_orders
    FROM f GROUP BY ALL
), conc AS (
    SELECT brand_id, period, max(g) AS top_influencer_gmv, sum(g::DOUBLE * g::DOUBLE) AS influencer_gmv_sq
    FROM (SELECT brand_id, period, account_id, sum(net) AS g FROM f WHERE is_inf GROUP BY ALL)
    GROUP BY ALL
), sess AS (
    SELECT a.brand_id, date_trunc('month', s.started_at)::DATE AS period,
           sum(epoch(s.ended_at) - epoch(s.started_at)) AS live_seconds, sum(s.viewers) AS self_viewers
    FROM live_sessions s JOIN accounts a ON s.account_id = a.account_id
    WHERE a.kind IN ('brand_main', 'brand_matrix') GROUP BY ALL
), spend AS (
    SELECT brand_id, date_trunc('month', date)::DATE AS period, sum(spend) AS paid_spend
    FROM ad_spend GROUP BY ALL
), fol AS (
    SELECT a.brand_id, date_trunc('month', f.followed_at)::DATE AS period, count(*) AS new_follows
    FROM follows f JOIN accounts a ON f.account_id = a.account_id
    WHERE a.kind IN ('brand_main', 'brand_matrix') GROUP BY ALL
), rev AS (
    SELECT o.brand_id, date_trunc('month', r.created_at)::DATE AS period, count(*) AS reviews,
           sum(r.score) AS score_sum,
           count(*) FILTER (r.complaint IN ('quality', 'misleading')) AS complaints
    FROM reviews r JOIN orders o ON r.order_id = o.order_id GROUP BY ALL
), periods AS (
    SELECT DISTINCT date_trunc('month', d)::DATE AS period
    FROM range(TIMESTAMP '{start}', TIMESTAMP '{end}' + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)
), t AS (
    SELECT b.brand_id, b.category, p.period,
           coalesce(m.net_gmv, 0) AS net_gmv, coalesce(m.gross_gmv, 0) AS gross_gmv,
           coalesce(m.orders, 0) AS orders, coalesce(m.buyers, 0) AS buyers,
           coalesce(m.self_gmv, 0) AS self_gmv, coalesce(m.self_live_gmv, 0) AS self_live_gmv,
           coalesce(m.public_gmv, 0) AS public_gmv, coalesce(m.paid_gmv, 0) AS paid_gmv,
           coalesce(m.recommend_gmv, 0) AS recommend_gmv, coalesce(m.search_gmv, 0) AS search_gmv,
           coalesce(m.other_gmv, 0) AS other_gmv, coalesce(m.distribution_gmv, 0) AS distribution_gmv,
           coalesce(m.active_influencers, 0) AS active_influencers,
           coalesce(m.dedicated_gmv, 0) AS dedicated_gmv, coalesce(m.follower_gmv, 0) AS follower_gmv,
           coalesce(m.repeat_buyers_90d, 0) AS repeat_buyers_90d,
           coalesce(m.repeat_buyers_180d, 0) AS repeat_buyers_180d,
           coalesce(m.special_supply_gmv, 0) AS special_supply_gmv,
           coalesce(m.special_supply_skus, 0) AS special_supply_skus,
           coalesce(m.refunded_orders, 0) AS refunded_orders, coalesce(m.ship_checked, 0) AS ship_checked,
           coalesce(m.late_orders, 0) AS late_orders,
           coalesce(c.top_influencer_gmv, 0) AS top_influencer_gmv,
           coalesce(c.influencer_gmv_sq, 0) AS influencer_gmv_sq,
           coalesce(s.live_seconds, 0) AS live_seconds, coalesce(s.self_viewers, 0) AS self_viewers,
           coalesce(sp.paid_spend, 0) AS paid_spend, coalesce(fo.new_follows, 0) AS new_follows,
           coalesce(r.reviews, 0) AS reviews, coalesce(r.score_sum, 0) AS score_sum,
           coalesce(r.complaints, 0) AS complaints
    FROM brands b CROSS JOIN periods p
    LEFT JOIN main m ON m.brand_id = b.brand_id AND m.period = p.period
    LEFT JOIN conc c ON c.brand_id = b.brand_id AND c.period = p.period
    LEFT JOIN sess s ON s.brand_id = b.brand_id AND s.period = p.period
    LEFT JOIN spend sp ON sp.brand_id = b.brand_id AND sp.period = p.period
    LEFT JOIN fol fo ON fo.brand_id = b.brand_id AND fo.period = p.period
    LEFT JOIN rev r ON r.brand_id = b.brand_id AND r.period = p.period
)
SELECT *, net_gmv::DOUBLE / nullif(orders, 0) AS aov,
       self_gmv::DOUBLE / nullif(net_gmv, 0) AS self_share,
       live_seconds / 3600.0 AS live_hours,
       self_live_gmv::DOUBLE / nullif(live_seconds / 3600.0, 0) AS self_gmv_per_live_hour,
       self_live_gmv::DOUBLE / nullif(self_viewers, 0) * 1000 AS gpm,
       paid_gmv::DOUBLE / nullif(paid_spend, 0) AS roas,
       public_gmv::DOUBLE / nullif(net_gmv, 0) AS public_share,
       recommend_gmv::DOUBLE / nullif(net_gmv, 0) AS recommend_share,
       paid_gmv::DOUBLE / nullif(net_gmv, 0) AS paid_share,
       search_gmv::DOUBLE / nullif(net_gmv, 0) AS search_share,
       other_gmv::DOUBLE / nullif(net_gmv, 0) AS other_share,
       distribution_gmv::DOUBLE / nullif(net_gmv, 0) AS distribution_share,
       top_influencer_gmv::DOUBLE / nullif(distribution_gmv, 0) AS top_influencer_share,
       influencer_gmv_sq / nullif(distribution_gmv::DOUBLE * distribution_gmv::DOUBLE, 0) AS influencer_hhi,
       repeat_buyers_90d::DOUBLE / nullif(buyers, 0) AS repurchase_rate_90d,
       repeat_buyers_180d::DOUBLE / nullif(buyers, 0) AS repurchase_rate_180d,
       follower_gmv::DOUBLE / nullif(net_gmv, 0) AS follower_gmv_share,
       special_supply_gmv::DOUBLE / nullif(net_gmv, 0) AS special_supply_share,
       refunded_orders::DOUBLE / nullif(orders, 0) AS refund_rate,
       complaints::DOUBLE / nullif(orders, 0) * 1000 AS complaints_per_1k,
       late_orders::DOUBLE / nullif(ship_checked, 0) AS late_shipment_rate,
       score_sum::DOUBLE / nullif(reviews, 0) AS review_score
FROM t
"""


# -- steps, each run in its own process ---------------------------------------------------------
def _wh(path: str) -> Any:
    from windmaker.warehouse import Warehouse

    return Warehouse(f"duckdb://{path}", memory_limit=MEMORY_LIMIT, threads=THREADS)


def step_generate(path: str) -> None:
    with _wh(path) as wh:
        wh.ensure_source_tables()
        con = wh.duckdb
        for sql in GENERATE:
            con.execute(sql.format(start=START, rows=ROWS, seconds=SECONDS))
        for table, col in HELD.items():
            con.execute(
                f"INSERT INTO {table} SELECT * FROM {STAGING[table]} WHERE {col} < TIMESTAMP '{CUTOFF}' ORDER BY {col}"
            )


def step_add_day(path: str) -> None:
    with _wh(path) as wh:
        con = wh.duckdb
        for table, col in HELD.items():
            con.execute(
                f"INSERT INTO {table} SELECT * FROM {STAGING[table]} WHERE {col} >= TIMESTAMP '{CUTOFF}' ORDER BY {col}"
            )
            con.execute(f"DROP TABLE {STAGING[table]}")
        con.execute("CHECKPOINT")


def step_floor(path: str) -> None:
    with _wh(path) as wh:
        wh.duckdb.execute(f"CREATE OR REPLACE TEMP TABLE floor AS {FLOOR_SQL}")


def step_refresh(path: str, full: bool) -> str:
    from windmaker.services.refresh import refresh

    with _wh(path) as wh:
        r = refresh(wh, full=full)
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in r.seconds.items())
    return f"{r.mode}: {stages}"


def step_month_ibis(path: str) -> None:
    from datetime import date

    from windmaker.metrics.brand_period import brand_period_metrics
    from windmaker.metrics.periods import period_table
    from windmaker.metrics.sources import Sources

    with _wh(path) as wh:
        src = Sources.of(wh.table)
        e = brand_period_metrics(
            src, "month", period_table(date(2025, 11, 1), date(2026, 10, 31), "month")
        )
        wh.write("_bench_month_ibis", e)


def step_month_sql(path: str) -> None:
    with _wh(path) as wh:
        wh.duckdb.execute(
            "CREATE OR REPLACE TABLE _bench_month_sql AS "
            + MONTH_SQL.format(start=START, end=CUTOFF)
        )


def step_month_pandas(path: str) -> None:
    """The month-level order metrics as an analyst writes them in pandas."""
    import numpy as np
    import pandas as pd

    with _wh(path) as wh:
        con = wh.duckdb
        o = con.execute(
            "SELECT order_id, paid_at, brand_id, sku_id, account_id, session_id, buyer_id, traffic_source, "
            "amount::DOUBLE AS amount, refund_amount::DOUBLE AS refund_amount, status, promised_ship_by, shipped_at FROM orders"
        ).df()
        acc = con.execute("SELECT account_id, kind FROM accounts").df()
        sku = con.execute("SELECT sku_id, special_supply FROM skus").df()
        ses = con.execute("SELECT session_id, dedicated_brand_id FROM live_sessions").df()
    o = o[o.status != "cancelled"]
    o = o.merge(acc, on="account_id", how="left").merge(sku, on="sku_id", how="left")
    o = o.merge(ses, on="session_id", how="left")
    o["net"] = o.amount - o.refund_amount
    o["period"] = o.paid_at.dt.to_period("M")
    o = o.sort_values(["brand_id", "buyer_id", "paid_at", "order_id"])
    prev = o.groupby(["brand_id", "buyer_id"]).paid_at.shift()
    gap = o.paid_at - prev
    o["r90"] = (gap > pd.Timedelta(0)) & (gap <= pd.Timedelta(days=90))
    o["r180"] = (gap > pd.Timedelta(0)) & (gap <= pd.Timedelta(days=180))
    o["is_self"] = o.kind.isin(["brand_main", "brand_matrix"])
    o["is_inf"] = o.kind == "influencer"
    for name, mask in {
        "self": o.is_self,
        "inf": o.is_inf,
        "public": o.traffic_source.isin(["recommend", "paid"]),
        "paid": o.traffic_source == "paid",
        "follow": o.traffic_source == "follow",
        "special": o.special_supply.fillna(False).astype(bool),
        "ded": o.dedicated_brand_id == o.brand_id,
    }.items():
        o[f"net_{name}"] = np.where(mask, o.net, 0.0)
    g = o.groupby(["brand_id", "period"])
    out = g.agg(
        net_gmv=("net", "sum"),
        orders=("net", "size"),
        buyers=("buyer_id", "nunique"),
        self_gmv=("net_self", "sum"),
        distribution_gmv=("net_inf", "sum"),
        public_gmv=("net_public", "sum"),
        paid_gmv=("net_paid", "sum"),
        follower_gmv=("net_follow", "sum"),
        special_supply_gmv=("net_special", "sum"),
        dedicated_gmv=("net_ded", "sum"),
    )
    out["repeat_90"] = o[o.r90].groupby(["brand_id", "period"]).buyer_id.nunique()
    out["repeat_180"] = o[o.r180].groupby(["brand_id", "period"]).buyer_id.nunique()
    inf = o[o.is_inf].groupby(["brand_id", "period", "account_id"]).net.sum()
    out["active_influencers"] = inf.groupby(level=[0, 1]).size()
    out["top_influencer_gmv"] = inf.groupby(level=[0, 1]).max()
    out["special_supply_skus"] = (
        o[o.special_supply.fillna(False).astype(bool)]
        .groupby(["brand_id", "period"])
        .sku_id.nunique()
    )
    for c in ("self_gmv", "distribution_gmv", "public_gmv", "follower_gmv", "special_supply_gmv"):
        out[c.replace("_gmv", "_share")] = out[c] / out.net_gmv.replace(0, np.nan)
    out["aov"] = out.net_gmv / out.orders
    out["repurchase_rate_90d"] = out.repeat_90 / out.buyers
    out["repurchase_rate_180d"] = out.repeat_180 / out.buyers
    assert len(out) > 0


# -- measurement -------------------------------------------------------------------------------
def _child(fn: Callable[..., Any], args: tuple[Any, ...], q: Any) -> None:
    t = time.perf_counter()
    info = fn(*args)
    q.put((time.perf_counter() - t, info))


def measure(fn: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """(seconds inside the step, peak RSS GiB of the process tree, the step's return value)."""
    import psutil

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, args, q))
    p.start()
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        proc = psutil.Process(p.pid)
        while not done.is_set():
            try:
                rss = proc.memory_info().rss + sum(
                    c.memory_info().rss for c in proc.children(recursive=True)
                )
            except psutil.Error:
                break
            peak = max(peak, rss)
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    p.join()
    done.set()
    th.join()
    if p.exitcode != 0:
        raise RuntimeError(f"{fn.__name__} failed with exit code {p.exitcode}")
    seconds, info = q.get()
    print(f"  {fn.__name__}{args[1:]}: {seconds:.1f} s, peak {peak / 2**30:.2f} GiB", flush=True)
    return seconds, peak / 2**30, info


def main() -> str:
    rows = f"{ROWS / 1e6:g}M"
    with tempfile.TemporaryDirectory(prefix="wm-bench-metrics-") as tmp:
        path = str(Path(tmp) / "warehouse.duckdb")
        gen_s, gen_mem, _ = measure(step_generate, path)
        full_s, full_mem, full_info = measure(step_refresh, path, True)
        _, _, _ = measure(step_add_day, path)
        # The floor and the one-day refresh are a few seconds each, where one run moves by 15%
        # on this machine: each runs REPEATS times (the warehouse restored to the new day's
        # state before every refresh) and the medians are compared.
        snapshot = path + ".new-day"
        shutil.copyfile(path, snapshot)
        floors: list[tuple[float, float, Any]] = []
        incs: list[tuple[float, float, Any]] = []
        for i in range(REPEATS):
            if i:
                shutil.copyfile(snapshot, path)
            floors.append(measure(step_floor, path))
            incs.append(measure(step_refresh, path, False))
        os.remove(snapshot)
        floor_s = statistics.median(f[0] for f in floors)
        floor_mem = max(f[1] for f in floors)
        median_inc = sorted(incs, key=lambda r: r[0])[len(incs) // 2]
        inc_s, inc_info = statistics.median(r[0] for r in incs), median_inc[2]
        inc_mem = max(r[1] for r in incs)
        runs = (
            f"Floor runs {', '.join(f'{f[0]:.1f}' for f in floors)} s; incremental runs "
            f"{', '.join(f'{r[0]:.1f}' for r in incs)} s (medians compared)."
        )
        ibis_s, ibis_mem, _ = measure(step_month_ibis, path)
        sql_s, sql_mem, _ = measure(step_month_sql, path)
        if ROWS <= PANDAS_MAX_ROWS:
            try:
                pd_s, pd_mem, _ = measure(step_month_pandas, path)
                pandas_row = f"| pandas month-level order metrics | {pd_s:.1f} s | {pd_s / ibis_s:.1f}× Ibis | {pd_mem:.1f} GiB | — |"
            except RuntimeError as exc:
                pandas_row = f"| pandas month-level order metrics | failed ({exc}) | — | — | — |"
        else:
            pandas_row = (
                f"| pandas month-level order metrics | not run: more rows than "
                f"WINDMAKER_BENCH_METRICS_PANDAS_MAX ({PANDAS_MAX_ROWS:,}) | — | — | — |"
            )
    lines = [
        f"## Metrics engine ({rows} orders, 1,000 brands, 12 months; DuckDB {THREADS} threads, memory_limit {MEMORY_LIMIT})",
        "",
        "| step | time | ratio | peak RSS (process tree) | target |",
        "|---|---|---|---|---|",
        f"| floor: raw DuckDB net GMV, orders, distinct buyers per brand × month | {floor_s:.1f} s | 1.0× | {floor_mem:.1f} GiB | — |",
        f"| full refresh, every metric table | {full_s:.1f} s | {full_s / floor_s:.1f}× floor | {full_mem:.1f} GiB | ≤ 10× |",
        f"| incremental refresh, one new day | {inc_s:.1f} s | {inc_s / floor_s:.2f}× floor | {inc_mem:.1f} GiB | ≤ 1× |",
        f"| month-level set through Ibis | {ibis_s:.1f} s | {ibis_s / sql_s:.2f}× SQL | {ibis_mem:.1f} GiB | ≤ 1.1× |",
        f"| month-level set in hand-written DuckDB SQL | {sql_s:.1f} s | 1.0× | {sql_mem:.1f} GiB | — |",
        pandas_row,
        "",
        f"Data generation (DuckDB SQL) {gen_s:.1f} s, {gen_mem:.1f} GiB. Full refresh stages: {full_info}. "
        f"Incremental (the median run): {inc_info}. {runs}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
