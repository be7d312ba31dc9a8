"""Ingest speed: validated CSV and Parquet loads against DuckDB's own raw loads, same run.

An orders file of N rows (default 10 million; ``WINDMAKER_BENCH_INGEST_ROWS`` overrides) with
Chinese headers and 0.1% bad rows (negative amounts, unknown brands) is loaded four ways, each in
its own process so peak memory is measured per load (psutil, resident set size, sampled):

- reference: ``CREATE TABLE AS SELECT * FROM read_csv(...)`` / ``read_parquet(...)`` into a fresh
  DuckDB file — no typing rules, no checks, no quarantine;
- windmaker: ``ingest_files`` into a fresh warehouse holding the referenced brands, SKUs and
  accounts — every contract rule, quarantine file, replace-by-key, one transaction.

Targets: validated CSV at least 1/3 of the raw CSV speed, Parquet at least 1/2 of raw Parquet.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path
from typing import Any

ROWS = int(os.environ.get("WINDMAKER_BENCH_INGEST_ROWS", "10000000"))
THREADS = 2
MEMORY_LIMIT = "6GB"
BRANDS, SKUS, ACCOUNTS = 1_000, 20_000, 5_000

ORDERS_SQL = f"""
SELECT
    'O' || i AS "订单编号",
    strftime(TIMESTAMP '2025-11-01' + INTERVAL (i % 31536000) SECOND, '%Y-%m-%d %H:%M:%S') AS "支付时间",
    CASE WHEN i % 2000 = 7 THEN 'B_unknown' ELSE 'B' || (i % {BRANDS}) END AS "品牌ID",
    'S' || (i % {SKUS}) AS "商品ID",
    'A' || (i % {ACCOUNTS}) AS "达人ID",
    'U' || (hash(i) % 3000000) AS "买家ID",
    ['推荐', '付费推广', '关注', '搜索', '其他'][1 + i % 5] AS "流量来源",
    1 + i % 3 AS "购买数量",
    CASE WHEN i % 2000 = 3 THEN -1.5 ELSE round(((i * 7919) % 50000) / 100.0 + 1, 2) END AS "实付金额",
    round(((i * 7919) % 5000) / 100.0, 2) AS "佣金",
    ['已完成', '已发货', '已支付', '已退款', '已取消'][1 + i % 5] AS "订单状态",
    CASE WHEN i % 5 = 3 THEN round(((i * 7919) % 50000) / 100.0 + 1, 2) ELSE 0 END AS "退款金额"
FROM range({{rows}}) t(i)
"""


def _connect(path: Path) -> Any:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute(f"SET threads = {THREADS}")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


def make_files(folder: Path, rows: int) -> tuple[Path, Path]:
    """The CSV (Chinese headers, yuan) and the Parquet (same rows, typed) inputs."""
    import duckdb

    csv, parquet = folder / "orders.csv", folder / "orders.parquet"
    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"COPY ({ORDERS_SQL.format(rows=rows)}) TO '{csv}' (HEADER, DELIMITER ',')")
    # The Parquet carries contract names and types (decimal yuan, timestamps), as exports do.
    con.execute(
        f"""COPY (SELECT "订单编号" AS order_id, CAST("支付时间" AS TIMESTAMP) AS paid_at,
                  "品牌ID" AS brand_id, "商品ID" AS sku_id, "达人ID" AS account_id,
                  "买家ID" AS buyer_id, "流量来源" AS traffic_source, "购买数量" AS quantity,
                  CAST("实付金额" AS DECIMAL(18,2)) AS amount,
                  CAST("佣金" AS DECIMAL(18,2)) AS commission, "订单状态" AS status,
                  CAST("退款金额" AS DECIMAL(18,2)) AS refund_amount
            FROM read_csv('{csv}')) TO '{parquet}' (FORMAT parquet)"""
    )
    con.close()
    return csv, parquet


def _raw(db: str, source: str) -> None:
    con = _connect(Path(db))
    con.execute(f"CREATE TABLE raw AS SELECT * FROM {source}")
    con.close()


def _validated(db: str, file: str) -> dict[str, int]:
    from windmaker.ingest import ingest_files
    from windmaker.warehouse import Warehouse

    wh = Warehouse(f"duckdb://{db}", memory_limit=MEMORY_LIMIT, threads=THREADS)
    try:
        report = ingest_files(
            wh,
            [Path(file)],
            table="orders",
            progress=False,
            quarantine_dir=Path(db).parent / "quarantine",
        )
    finally:
        wh.close()
    return {"accepted": report.accepted, "rejected": report.rejected}


def _seed(db: Path) -> None:
    """A warehouse holding the brands, SKUs and accounts the orders reference."""
    from windmaker.warehouse import Warehouse

    wh = Warehouse(f"duckdb://{db}", memory_limit=MEMORY_LIMIT, threads=THREADS)
    wh.ensure_source_tables()
    con = wh.duckdb
    con.execute(
        f"INSERT INTO brands SELECT 'B' || i, 'brand ' || i, 'food', 'traditional', "
        f"TIMESTAMP '2024-01-01' FROM range({BRANDS}) t(i)"
    )
    con.execute(
        f"INSERT INTO skus SELECT 'S' || i, 'B' || (i % {BRANDS}), NULL, 'food', 9.9, false, "
        f"TIMESTAMP '2024-01-01' FROM range({SKUS}) t(i)"
    )
    con.execute(
        f"INSERT INTO accounts SELECT 'A' || i, 'influencer', NULL, 'acc ' || i, 'food', 100, "
        f"TIMESTAMP '2024-01-01' FROM range({ACCOUNTS}) t(i)"
    )
    wh.close()


def _child(fn_name: str, args: tuple[Any, ...], out: Any) -> None:
    import resource

    # Imports are not part of a load: both sides start with their modules in memory.
    import duckdb  # noqa: F401

    import windmaker.ingest
    import windmaker.warehouse  # noqa: F401

    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = globals()[fn_name](*args)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out.send(((time.perf_counter() - start, cpu), result))


def measure(fn_name: str, *args: Any) -> tuple[tuple[float, float], int, Any]:
    """((wall seconds, CPU seconds), peak RSS bytes, result) of ``fn_name(*args)`` in a fresh
    process. CPU seconds (all threads) are the fairer measure on a machine shared with others."""
    import psutil

    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn_name, args, send))
    proc.start()
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.is_alive():
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.Error:
            break
        if recv.poll(0.05):
            break
    seconds, result = recv.recv()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"{fn_name} failed with exit code {proc.exitcode}")
    return seconds, peak, result


def main() -> str:
    rows = ROWS
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        csv, parquet = make_files(folder, rows)
        results: dict[str, tuple[tuple[float, float], int, Any]] = {}
        for name, fn, args in (
            ("raw_csv", "_raw", (str(folder / "raw_csv.duckdb"), f"read_csv('{csv}')")),
            (
                "raw_parquet",
                "_raw",
                (str(folder / "raw_pq.duckdb"), f"read_parquet('{parquet}')"),
            ),
            ("csv", "_validated", (str(folder / "wh_csv.duckdb"), str(csv))),
            ("parquet", "_validated", (str(folder / "wh_pq.duckdb"), str(parquet))),
        ):
            if fn == "_validated":
                _seed(Path(args[0]))
            results[name] = measure(fn, *args)
        csv_mb = csv.stat().st_size / 2**20
        pq_mb = parquet.stat().st_size / 2**20

    def rate(name: str, cpu: bool = False) -> float:
        return rows / results[name][0][1 if cpu else 0]

    def row(label: str, name: str, ref: str | None, target: float | None) -> str:
        (secs, cpu), peak, res = results[name]
        ratio = rate(name) / rate(ref) if ref else 1.0
        cpu_ratio = rate(name, cpu=True) / rate(ref, cpu=True) if ref else 1.0
        ok = "" if target is None else (" ✅" if ratio >= target else " ❌")
        extra = f" | {res['accepted']:,} / {res['rejected']:,}" if res else " | "
        return (
            f"| {label} | {secs:.1f} | {rate(name):,.0f} | {ratio:.2f}{ok} | {cpu:.1f} | "
            f"{cpu_ratio:.2f} | {peak / 2**20:,.0f}{extra} |"
        )

    lines = [
        "## ingest",
        "",
        f"{rows:,} order rows (CSV {csv_mb:,.0f} MiB with Chinese headers; Parquet {pq_mb:,.0f} MiB), "
        f"0.1% bad rows; DuckDB threads={THREADS}, memory_limit={MEMORY_LIMIT}. "
        "Each load runs in a fresh process; peak RSS is that process's. Ratios are rows/s "
        "against the raw load of the same format (wall clock; and CPU time, all threads, which "
        "is steadier on a shared machine).",
        "",
        "| load | seconds | rows/s | ratio (target) | CPU s | CPU ratio | peak RSS MiB "
        "| accepted / quarantined |",
        "|---|---|---|---|---|---|---|---|",
        row("DuckDB raw read_csv → table", "raw_csv", None, None),
        row("windmaker validated CSV (target ≥ 0.33)", "csv", "raw_csv", 1 / 3),
        row("DuckDB raw read_parquet → table", "raw_parquet", None, None),
        row("windmaker validated Parquet (target ≥ 0.50)", "parquet", "raw_parquet", 0.5),
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(main())
