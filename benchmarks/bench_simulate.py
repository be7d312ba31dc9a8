"""Market simulator throughput: orders generated and written to Parquet per second, peak RSS.

Default: a mid-size market (about 10 M orders: 2,000 brands × 12 months). Environment:

- ``WINDMAKER_BENCH_SIM_BRANDS`` — number of brands (e.g. 18000 for about 100 M orders, which
  streams block by block and needs no more memory than the default run);
- ``WINDMAKER_BENCH_SIM_MONTHS`` — months (default 12);
- ``WINDMAKER_BENCH_SIM_COMPRESSION`` — Parquet codec: snappy (default), zstd or none;
- ``WINDMAKER_BENCH_SIM_DIR`` — output folder (default: a temporary folder, removed after).

Reference measured in the same run: writing the simulated orders table, already in memory, to
Parquet with pyarrow's defaults (the cost of the write alone).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq

from windmaker.simulator import MarketConfig, simulate


class _PeakRss:
    """Samples the process's resident memory every 50 ms; ``peak`` is the highest seen."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def run(brands: int, months: int, out: Path, compression: str = "snappy") -> dict[str, float]:
    base_rss = psutil.Process().memory_info().rss
    cpu0 = _cpu()
    with _PeakRss() as rss:
        t0 = time.perf_counter()
        config = MarketConfig(brands=brands, months=months, seed=0, compression=compression)
        summary = simulate(config, out)
        wall = time.perf_counter() - t0
    cpu = _cpu() - cpu0
    # reference: write the same orders (read back into memory first, not timed)
    table = pq.read_table(out / "orders.parquet")
    t1 = time.perf_counter()
    pq.write_table(table, out / "reference_orders.parquet")
    ref_wall = time.perf_counter() - t1
    del table
    return {
        "orders": summary.orders,
        "wall": wall,
        "cpu": cpu,
        "peak_rss_gib": (rss.peak - base_rss) / 2**30,
        "ref_wall": ref_wall,
        "bytes": (out / "orders.parquet").stat().st_size,
    }


def main() -> str:
    brands = int(os.environ.get("WINDMAKER_BENCH_SIM_BRANDS", "2000"))
    months = int(os.environ.get("WINDMAKER_BENCH_SIM_MONTHS", "12"))
    compression = os.environ.get("WINDMAKER_BENCH_SIM_COMPRESSION", "snappy")
    keep = os.environ.get("WINDMAKER_BENCH_SIM_DIR")
    out = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench-simulate-"))
    try:
        r = run(brands, months, out, compression)
    finally:
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
    rate = r["orders"] / r["wall"]
    ref_rate = r["orders"] / r["ref_wall"]
    lines = [
        "## simulate",
        "",
        f"Market of {brands:,} brands × {months} months, seed 0: {r['orders']:,.0f} orders "
        f"({r['bytes'] / 2**20:,.0f} MiB of orders Parquet, {compression}), all nine tables, "
        "truth and ecosystem.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| wall time | {r['wall']:.1f} s |",
        f"| orders generated and written per second (wall) | {rate:,.0f} |",
        f"| orders per CPU-second (both threads) | {r['orders'] / r['cpu']:,.0f} |",
        f"| projected on 2 idle cores (2 × per CPU-second, both threads busy) | "
        f"{2 * r['orders'] / r['cpu']:,.0f} |",
        f"| reference: pyarrow writes the same orders table per second | {ref_rate:,.0f} |",
        f"| ratio simulate ÷ reference write | {rate / ref_rate:.2f} |",
        f"| peak RSS above the process's start | {r['peak_rss_gib']:.2f} GiB |",
        "",
        "The orders stream to Parquet block by block (64 brands per block by default), so peak",
        "memory depends on the block, not on the market: set WINDMAKER_BENCH_SIM_BRANDS=18000",
        "for a market of about 100 M orders.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(main())
