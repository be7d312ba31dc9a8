"""The whole main job at scale: ``windmaker run --full --models`` against the metrics floor.

A simulated market (``WINDMAKER_BENCH_RUN_BRANDS`` brands, default 3,300, ×
``WINDMAKER_BENCH_RUN_MONTHS`` months, default 12, seed 7: about 21M orders) is ingested into a
scratch workspace under ``WINDMAKER_BENCH_RUN_DIR`` (default: the system's temporary folder).
Measured in the same run, on that warehouse:

- **floor**: the metrics benchmark's floor query (``bench_metrics.FLOOR_SQL``: per brand ×
  month net GMV, order count and distinct buyers in one raw DuckDB query), median of 3;
- **the whole run**: ``run_pipeline(full=True, models=True)`` (brushing, metrics, trust, the
  model fits, diagnosis) in a fresh process, with its seconds per step; the peak resident
  memory of that process and its fit workers together, sampled every 0.2 s.

The issue's bars: at 20M orders the whole run within 15× the floor; at 100M orders
(``WINDMAKER_BENCH_RUN_BRANDS=16800``) a peak of at most 6 GiB for the process tree.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.children import in_child

BRANDS = int(os.environ.get("WINDMAKER_BENCH_RUN_BRANDS", "3300"))
MONTHS = int(os.environ.get("WINDMAKER_BENCH_RUN_MONTHS", "12"))
FLOOR_BAR = 15.0
PEAK_BAR_GIB = 6.0


def _child(folder: str, out: Any) -> None:
    from windmaker.config import load_settings
    from windmaker.services.run import run_pipeline

    start = time.perf_counter()
    result = run_pipeline(load_settings(Path(folder)), full=True, models=True)
    out.send((time.perf_counter() - start, result.as_dict()))


def whole_run(folder: Path) -> tuple[float, dict[str, Any], int]:
    """(seconds, the run's record, peak bytes of the process tree) of the main job with models
    on the workspace ``folder``, in a fresh process."""
    (seconds, record), peak = in_child(_child, (str(folder),), poll=0.2)
    return seconds, record, peak


def _floor(settings: Any) -> tuple[float, int]:
    from benchmarks.bench_metrics import FLOOR_SQL
    from windmaker.workspace import open_warehouse

    runs = []
    with open_warehouse(settings) as wh:
        orders = int(wh.duckdb.execute("SELECT count(*) FROM orders").fetchone()[0])
        for _ in range(3):
            clock = time.perf_counter()
            wh.duckdb.execute(f"CREATE OR REPLACE TEMP TABLE floor AS {FLOOR_SQL}")
            runs.append(time.perf_counter() - clock)
    return statistics.median(runs), orders


def main() -> str:
    from windmaker.ingest import ingest_files
    from windmaker.simulator import MarketConfig, simulate
    from windmaker.workspace import init_workspace

    root = Path(
        tempfile.mkdtemp(prefix="bench-run-", dir=os.environ.get("WINDMAKER_BENCH_RUN_DIR"))
    )
    try:
        clock = time.perf_counter()
        simulate(MarketConfig(brands=BRANDS, months=MONTHS, seed=7), root / "market")
        simulated = time.perf_counter() - clock
        settings = init_workspace(root / "ws")
        clock = time.perf_counter()
        ingest_files(settings, sorted((root / "market").glob("*.parquet")), progress=False)
        ingested = time.perf_counter() - clock
        shutil.rmtree(root / "market")
        floor, orders = _floor(settings)
        seconds, record, peak = whole_run(settings.workspace)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    steps = record.get("seconds", {})
    gib = peak / 2**30
    ratio = seconds / floor
    lines = [
        "## The whole main job: `run --full --models`",
        "",
        f"{BRANDS:,} brands × {MONTHS} months (seed 7): {orders:,} orders, simulated in "
        f"{simulated:.0f} s and ingested (nine tables, every rule) in {ingested:.0f} s.",
        "",
        "| measure | seconds | × floor |",
        "|---|---:|---:|",
        f"| floor (`FLOOR_SQL`, median of 3) | {floor:.2f} | 1.0 |",
        *(f"| {step} | {s:.1f} | {s / floor:.1f} |" for step, s in steps.items()),
        f"| **whole run** (bar ≤ {FLOOR_BAR:g}× at 20M orders) | **{seconds:.1f}** | "
        f"**{ratio:.1f}** {'✅' if ratio <= FLOOR_BAR else '❌'} |",
        "",
        f"Peak resident memory of the run's process and its fit workers: **{gib:.2f} GiB** "
        f"(bar ≤ {PEAK_BAR_GIB:g} GiB at 100M orders).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
