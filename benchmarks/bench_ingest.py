"""Ingest speed: validated CSV and Parquet loads against DuckDB's own raw loads, same run.

Two orders files, each as CSV and as Parquet:

- the benchmark file: N rows (default 10 million; ``WINDMAKER_BENCH_INGEST_ROWS`` overrides) with
  Chinese headers and 0.1% bad rows (negative amounts, unknown brands);
- the demo market's orders (the simulator's market as ``make demo`` makes it: 1,000 brands × 12
  months, seed 7, about 6.3M orders; ``WINDMAKER_BENCH_INGEST_MARKET`` names the folder of one
  already simulated), its CSV written from its Parquet with the contract's headers.

Each is loaded two ways, each load in its own process so peak memory is measured per load
(psutil, resident set size, sampled):

- reference: ``CREATE TABLE AS SELECT * FROM read_csv(...)`` / ``read_parquet(...)`` into a fresh
  DuckDB file — no typing rules, no checks, no quarantine;
- windmaker: ``ingest_files`` into a fresh warehouse holding the referenced brands, SKUs,
  accounts (and for the demo, its factories and live sessions) — every contract rule, every
  foreign key, quarantine file, replace-by-key, one transaction.

Targets (issue 21): validated CSV at least 0.4 of the raw CSV speed, Parquet at least 0.6 of raw
Parquet.

The benchmark file's CSV is also loaded under a ``memory_limit`` of a fraction of its size
(:data:`SMALL_LIMIT`): the import streams it, so its peak memory follows the limit, not the file.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.children import in_child

ROWS = int(os.environ.get("WINDMAKER_BENCH_INGEST_ROWS", "10000000"))
MARKET = os.environ.get("WINDMAKER_BENCH_INGEST_MARKET")
CSV_TARGET, PARQUET_TARGET = 0.4, 0.6
#: The demo market's tables its orders reference, loaded (untimed) before its orders.
DEMO_REFERENCED = ("brands", "factories", "skus", "accounts", "live_sessions")
THREADS = 2
MEMORY_LIMIT = "6GB"
#: The limit of the streamed load: under a third of the benchmark file's CSV at 10M rows.
SMALL_LIMIT = os.environ.get("WINDMAKER_BENCH_INGEST_SMALL_LIMIT", "256MB")
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


def _validated(db: str, file: str, memory_limit: str = MEMORY_LIMIT) -> dict[str, int]:
    from windmaker.ingest import ingest_files
    from windmaker.warehouse import Warehouse

    wh = Warehouse(f"duckdb://{db}", memory_limit=memory_limit, threads=THREADS)
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


def _seed_demo(db: Path, market: Path) -> None:
    """A warehouse holding every table the demo market's orders reference, from the market."""
    from windmaker.ingest import ingest_files
    from windmaker.warehouse import Warehouse

    wh = Warehouse(f"duckdb://{db}", memory_limit=MEMORY_LIMIT, threads=THREADS)
    try:
        ingest_files(
            wh,
            [market / f"{name}.parquet" for name in DEMO_REFERENCED],
            progress=False,
            quarantine_dir=db.parent / "quarantine",
        )
    finally:
        wh.close()


def demo_files(folder: Path) -> tuple[Path, Path, Path]:
    """(market folder, orders CSV, orders Parquet) of the demo market; simulated unless
    ``WINDMAKER_BENCH_INGEST_MARKET`` names one."""
    import duckdb

    if MARKET:
        market = Path(MARKET)
    else:
        from windmaker.simulator import MarketConfig, simulate

        market = folder / "market"
        simulate(MarketConfig(brands=1000, months=12, seed=7), market)
    parquet, csv = market / "orders.parquet", folder / "demo_orders.csv"
    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{csv}' (HEADER)")
    con.close()
    return market, csv, parquet


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
    (seconds, result), peak = in_child(_child, (fn_name, args), poll=0.05)
    return seconds, peak, result


def _loads(
    folder: Path, tag: str, csv: Path, parquet: Path, seed: Any, *, streamed: bool = False
) -> dict[str, Any]:
    """The four loads of one orders file, each in a fresh process: raw and validated, CSV and
    Parquet (the validated ones into a warehouse ``seed`` fills first); ``streamed`` adds the
    CSV validated under :data:`SMALL_LIMIT`."""
    results: dict[str, Any] = {}
    loads: list[tuple[str, str, tuple[str, ...]]] = [
        ("raw_csv", "_raw", (f"read_csv('{csv}')",)),
        ("raw_parquet", "_raw", (f"read_parquet('{parquet}')",)),
        ("csv", "_validated", (str(csv),)),
        ("parquet", "_validated", (str(parquet),)),
    ]
    if streamed:
        loads.append(("csv_streamed", "_validated", (str(csv), SMALL_LIMIT)))
    for name, fn, args in loads:
        db = folder / f"{tag}_{name}.duckdb"
        if fn == "_validated":
            seed(db)
        results[name] = measure(fn, str(db), *args)
        db.unlink(missing_ok=True)
    return results


def _table(title: str, rows: int, results: dict[str, Any]) -> list[str]:
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

    streamed = (
        [
            row(
                f"windmaker validated CSV, memory_limit {SMALL_LIMIT}",
                "csv_streamed",
                "raw_csv",
                None,
            )
        ]
        if "csv_streamed" in results
        else []
    )
    return [
        title,
        "",
        "| load | seconds | rows/s | ratio (target) | CPU s | CPU ratio | peak RSS MiB "
        "| accepted / quarantined |",
        "|---|---|---|---|---|---|---|---|",
        row("DuckDB raw read_csv → table", "raw_csv", None, None),
        row(f"windmaker validated CSV (target ≥ {CSV_TARGET})", "csv", "raw_csv", CSV_TARGET),
        *streamed,
        row("DuckDB raw read_parquet → table", "raw_parquet", None, None),
        row(
            f"windmaker validated Parquet (target ≥ {PARQUET_TARGET})",
            "parquet",
            "raw_parquet",
            PARQUET_TARGET,
        ),
        "",
    ]


def main() -> str:
    import pyarrow.parquet as pq

    rows = ROWS
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        csv, parquet = make_files(folder, rows)
        bench = _loads(folder, "bench", csv, parquet, _seed, streamed=True)
        csv_mb = csv.stat().st_size / 2**20
        pq_mb = parquet.stat().st_size / 2**20
        csv.unlink()
        market, demo_csv, demo_parquet = demo_files(folder)
        demo_rows = pq.ParquetFile(demo_parquet).metadata.num_rows
        demo = _loads(folder, "demo", demo_csv, demo_parquet, lambda db: _seed_demo(db, market))
        demo_csv_mb = demo_csv.stat().st_size / 2**20
        demo_pq_mb = demo_parquet.stat().st_size / 2**20

    return "\n".join(
        [
            "## ingest",
            "",
            f"DuckDB threads={THREADS}, memory_limit={MEMORY_LIMIT}. Each load runs in a fresh "
            "process; peak RSS is that process's. Ratios are rows/s against the raw load of the "
            "same format (wall clock; and CPU time, all threads, which is steadier on a shared "
            "machine). Validated loads check every foreign key.",
            "",
            *_table(
                f"**Benchmark file**: {rows:,} order rows (CSV {csv_mb:,.0f} MiB with Chinese "
                f"headers; Parquet {pq_mb:,.0f} MiB), 0.1% bad rows.",
                rows,
                bench,
            ),
            *_table(
                f"**Demo market's orders**: {demo_rows:,} rows (CSV {demo_csv_mb:,.0f} MiB with "
                f"the contract's headers; Parquet {demo_pq_mb:,.0f} MiB).",
                demo_rows,
                demo,
            ),
        ]
    )


if __name__ == "__main__":  # pragma: no cover
    print(main())
