"""Freshness of the inbox loop: a new day's orders file, from landing to the updated diagnosis.

A simulated market (``WINDMAKER_BENCH_WATCH_BRANDS`` brands, default 60, over
``WINDMAKER_BENCH_WATCH_MONTHS`` months, default 6) is ingested with its last three days of
orders held back, and the main job runs once. Measured in the same run, on that warehouse:

- **floor**: the metrics benchmark's floor query (``bench_metrics.FLOOR_SQL``: per brand ×
  month net GMV, order count and distinct buyers in one raw DuckDB query), median of 3;
- **landing → diagnosed**: each held-back day is written as one orders file into a folder
  watched by :func:`windmaker.services.watch.watch` (polling every
  ``WINDMAKER_BENCH_WATCH_INTERVAL`` seconds, default 0.2), landed the way a copier does it
  (written under a partial name, renamed), and timed from the rename to the diagnosis stored
  (the report's ``diagnosed_at``); split into waiting for the poll, ingest and main job.
  Three days, one after the other; medians are compared with the floor.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

BRANDS = int(os.environ.get("WINDMAKER_BENCH_WATCH_BRANDS", "60"))
MONTHS = int(os.environ.get("WINDMAKER_BENCH_WATCH_MONTHS", "6"))
INTERVAL = float(os.environ.get("WINDMAKER_BENCH_WATCH_INTERVAL", "0.2"))
REPEATS = 3


def _market(root: Path) -> tuple[Any, list[Path]]:
    """The ingested and diagnosed workspace, and one orders file per held-back day."""
    from windmaker.ingest import ingest_files
    from windmaker.services.run import run_pipeline
    from windmaker.simulator import MarketConfig, simulate
    from windmaker.workspace import init_workspace

    files = root / "files"
    simulate(MarketConfig(brands=BRANDS, months=MONTHS, seed=11), files)
    base = root / "base"
    base.mkdir()
    for path in files.glob("*.parquet"):
        if path.name not in ("orders.parquet", "reviews.parquet"):
            shutil.copy(path, base / path.name)
    # Split with DuckDB, which streams the files: at 20M orders pandas held 24 GB here.
    con = duckdb.connect()
    con.execute("SET memory_limit = '4GB'")
    orders = f"read_parquet('{files / 'orders.parquet'}')"
    reviews = f"read_parquet('{files / 'reviews.parquet'}')"
    held = [
        pd.Timestamp(row[0])
        for row in con.execute(
            f"SELECT DISTINCT date_trunc('day', paid_at) AS d FROM {orders} ORDER BY d DESC LIMIT ?",
            [REPEATS],
        ).fetchall()
    ][::-1]
    first = held[0].to_pydatetime()
    con.execute(
        f"COPY (SELECT * FROM {orders} WHERE paid_at < ?) TO '{base / 'orders.parquet'}' "
        "(FORMAT parquet)",
        [first],
    )
    con.execute(
        f"COPY (SELECT * FROM {reviews} WHERE order_id IN "
        f"(SELECT order_id FROM {orders} WHERE paid_at < ?)) TO '{base / 'reviews.parquet'}' "
        "(FORMAT parquet)",
        [first],
    )
    new = root / "new"
    new.mkdir()
    day_files = []
    for day in held:
        out = new / f"orders-{day:%Y%m%d}.parquet"
        con.execute(
            f"COPY (SELECT * FROM {orders} WHERE paid_at >= ? AND paid_at < ?) TO '{out}' "
            "(FORMAT parquet)",
            [day.to_pydatetime(), (day + pd.Timedelta(days=1)).to_pydatetime()],
        )
        day_files.append(out)
    con.close()
    settings = init_workspace(root / "ws")
    ingest_files(settings, sorted(base.glob("*.parquet")), progress=False)
    run_pipeline(settings)
    return settings, day_files


def _floor(settings: Any) -> tuple[float, int]:
    from benchmarks.bench_metrics import FLOOR_SQL
    from windmaker.workspace import open_warehouse

    runs = []
    with open_warehouse(settings) as wh:
        orders = int(wh.execute(wh.table("orders").count()))
        for _ in range(3):
            clock = time.perf_counter()
            wh.duckdb.execute(f"CREATE OR REPLACE TEMP TABLE floor AS {FLOOR_SQL}")
            runs.append(time.perf_counter() - clock)
    return statistics.median(runs), orders


def _drop_and_wait(inbox: Path, day_file: Path, marks: dict[str, float]) -> dict[str, float]:
    """Land ``day_file`` in the inbox; the seconds from landing to each stage and to stored."""
    partial = inbox / f"{day_file.name}.part"
    shutil.copy(day_file, partial)
    marks.clear()
    os.replace(partial, inbox / day_file.name)
    landed = time.time()
    report = inbox / "done" / f"{day_file.name}.report.json"
    deadline = time.monotonic() + 3600
    while not report.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{day_file.name} was not diagnosed")
        time.sleep(0.01)
    got = json.loads(report.read_text(encoding="utf-8"))
    if got["outcome"] != "done" or not got["diagnosed_at"]:
        raise RuntimeError(f"{day_file.name}: {got}")
    stored = datetime.fromisoformat(got["diagnosed_at"]).timestamp()
    return {
        "wait": marks["taken"] - landed,
        "ingest": marks["main_job"] - marks["taken"],
        "main_job": stored - marks["main_job"],
        "total": stored - landed,
        "rows": float(got["accepted"]),
    }


def main() -> str:
    from windmaker.services.watch import WatchEvent, watch

    with tempfile.TemporaryDirectory(prefix="windmaker-bench-watch-") as tmp:
        root = Path(tmp)
        clock = time.perf_counter()
        settings, day_files = _market(root)
        setup = time.perf_counter() - clock
        floor, orders = _floor(settings)

        inbox = root / "inbox"
        inbox.mkdir()
        marks: dict[str, float] = {}

        def on_event(event: WatchEvent) -> None:
            if event.kind in ("taken", "main_job"):
                marks[event.kind] = time.time()
            elif event.kind == "error":
                print(f"watch error: {event.message}", flush=True)

        stop = threading.Event()
        loop = threading.Thread(
            target=watch,
            args=(settings, inbox, stop),
            kwargs={"interval": INTERVAL, "settle": INTERVAL, "on_event": on_event},
        )
        loop.start()
        try:
            runs = [_drop_and_wait(inbox, f, marks) for f in day_files]
        finally:
            stop.set()
            loop.join()

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    total = med("total")
    sizes = ", ".join(f"{int(r['rows']):,}" for r in runs)
    lines = [
        "### watch: a new day's orders file, from landing to the updated diagnosis",
        "",
        f"{BRANDS} brands × {MONTHS} months, {orders:,} orders in the warehouse "
        f"(built in {setup:.0f} s); one-day files of "
        f"{sizes} orders; polling every {INTERVAL:g} s; "
        f"medians of {REPEATS} days.",
        "",
        "| measure | seconds | × floor |",
        "|---|---:|---:|",
        f"| floor (`FLOOR_SQL`, median of 3) | {floor:.3f} | 1.00 |",
        f"| waiting for the poll (landing → taken) | {med('wait'):.3f} | {med('wait') / floor:.2f} |",
        f"| ingest (validated, one batch) | {med('ingest'):.3f} | {med('ingest') / floor:.2f} |",
        f"| main job (brushing, metrics, trust, diagnosis) | {med('main_job'):.3f} | "
        f"{med('main_job') / floor:.2f} |",
        f"| **landing → diagnosis stored** | **{total:.3f}** | **{total / floor:.2f}** |",
        "",
        "Per day (landing → stored): " + ", ".join(f"{r['total']:.2f} s" for r in runs) + ".",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
