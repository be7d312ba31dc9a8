"""Order-brushing detection: accuracy on planted rings and speed over 20 million orders.

Accuracy: the market simulator's small markets (planted rings in ``truth/brushing_rings.parquet``)
and the test suite's planted market (bursts and spread-out rings), precision and recall of
high-confidence flagged buyers and shops for the concentration rule, the ring blocks and their
union.

Speed: N orders (default 20 million over 12 months, ``WINDMAKER_BENCH_BRUSHING_ROWS``
overrides) of 1,000 shops and 4 million buyers — a fifth of them loyal repeat buyers of one shop
— generated inside DuckDB, with 50 planted rings on top. Measured in the same run:

- **floor**: one raw DuckDB query computing orders and distinct buyers per shop × month, the
  irreducible high-cardinality aggregation the metrics refresh also does (the metrics benchmark
  puts a full refresh at up to 10× this floor);
- **in memory**: reading the order stream from the warehouse and running both detectors and the
  evidence (``detect_brushing``; the target is under 2× a metrics refresh, i.e. under 20× the
  floor);
- **in the warehouse**: the same report with every pass over all orders run by DuckDB and only
  the suspicious part handed to Python (``detect_in_warehouse``, what ``windmaker trust`` runs).

Each path runs in its own process (``benchmarks.bench_metrics.measure``), so its peak RSS (the
process tree, DuckDB's memory included) is its own. ``WINDMAKER_BENCH_BRUSHING_ACCURACY=0``
skips the accuracy tables for a quick speed run.

The fifth of orders placed by loyal repeat buyers of one shop is also the false-positive test at
scale: none of them may be flagged with high confidence.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.bench_metrics import measure
from windmaker.models.brushing import (
    brushing_input,
    detect_brushing,
    detect_in_warehouse,
    evaluate,
)
from windmaker.models.trust import load_config
from windmaker.warehouse import Warehouse

ROWS = int(os.environ.get("WINDMAKER_BENCH_BRUSHING_ROWS", "20000000"))
ACCURACY = os.environ.get("WINDMAKER_BENCH_BRUSHING_ACCURACY", "1") != "0"
SHOPS = 1000
BUYERS = 4_000_000
SECONDS = 365 * 86400

GENERATE = """
CREATE TABLE orders AS
SELECT 'O' || i AS order_id,
       'B' || shop AS brand_id,
       'U' || CASE WHEN loyal THEN shop * 800 + (hash(i * 7 + 1) % 800)::BIGINT
                   ELSE (hash(i * 11 + 3) % {buyers})::BIGINT END AS buyer_id,
       paid_at,
       (20 + hash(i * 19 + 2) % 480)::DECIMAL(18,2) AS amount,
       0::DECIMAL(18,2) AS refund_amount,
       'completed' AS status,
       paid_at + INTERVAL 2 DAY AS promised_ship_by,
       paid_at + INTERVAL 1 DAY AS shipped_at
FROM (SELECT i, (hash(i) % {shops})::BIGINT AS shop, hash(i * 17 + 9) % 5 = 0 AS loyal,
             TIMESTAMP '2025-11-01' + to_seconds((hash(i * 13 + 5) % {seconds})::BIGINT)
               AS paid_at
      FROM range({rows}) t(i))
"""

#: The columns of the generated orders (the detector reads these of the contract's).
ORDER_COLUMNS = [
    "order_id",
    "brand_id",
    "buyer_id",
    "paid_at",
    "amount",
    "refund_amount",
    "status",
    "promised_ship_by",
    "shipped_at",
]

FLOOR = """
SELECT brand_id, date_trunc('month', paid_at) AS month, count(*) AS orders,
       count(DISTINCT buyer_id) AS buyers
FROM orders GROUP BY ALL
"""


def _rings(rng: np.random.Generator, n_rings: int = 50) -> pd.DataFrame:
    """Rings like the simulator's: 3–8 buyers order 3–5 times each within 50 minutes, at night,
    in 3–8 episodes at one shop, buying its cheapest items (¥9.90)."""
    rows = []
    t0 = pd.Timestamp("2025-11-01").value // 10**9
    for r in range(n_rings):
        shop = f"B{rng.integers(0, SHOPS)}"
        buyers = [f"R{r}_{k}" for k in range(int(rng.integers(3, 9)))]
        for _ in range(int(rng.integers(3, 9))):
            start = t0 + int(rng.integers(0, 360)) * 86400 + int(rng.integers(3600, 4 * 3600))
            for b in buyers:
                for _ in range(int(rng.integers(3, 6))):
                    rows.append((r, shop, b, start + int(rng.integers(0, 50 * 60))))
    df = pd.DataFrame(rows, columns=["ring_id", "brand_id", "buyer_id", "t"])
    df["order_id"] = [f"X{i}" for i in range(len(df))]
    df["paid_at"] = pd.to_datetime(df["t"], unit="s").astype("datetime64[us]")
    df["amount"] = 9.9
    df["refund_amount"] = 0.0
    df["status"] = "completed"
    df["promised_ship_by"] = df["paid_at"] + pd.Timedelta(days=2)
    df["shipped_at"] = df["paid_at"] + pd.Timedelta(days=1)
    return df.drop(columns="t")


def _timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _accuracy_rows() -> list[str]:
    from tests.models.market import planted_market

    from windmaker.simulator import small_market

    config = load_config().brushing
    lines = []
    markets: list[tuple[str, pd.DataFrame, pd.DataFrame]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed, brands, months in ((1, 100, 3), (2, 200, 6)):
            d = small_market(Path(tmp) / f"m{seed}", seed=seed, brands=brands, months=months)
            orders = pd.read_parquet(d / "orders.parquet", columns=ORDER_COLUMNS)
            for col in ("amount", "refund_amount"):
                orders[col] = orders[col].astype("float64")
            rings = pd.read_parquet(d / "truth" / "brushing_rings.parquet")
            markets.append(
                (f"simulator seed {seed}, {brands} brands × {months} months", orders, rings)
            )
    for seed in (7, 8, 9):
        m = planted_market(seed=seed)
        markets.append((f"test market seed {seed} (bursts + spread rings)", m.orders, m.rings))
    for name, orders, rings in markets:
        result = evaluate(detect_brushing(orders, config).flagged, rings)
        for r in result.itertuples(index=False):
            lines.append(
                f"| {name} | {len(orders):,} | {rings['ring_id'].nunique()} | {r.method} | "
                f"{r.buyer_precision:.3f} | {r.buyer_recall:.3f} | "
                f"{r.brand_precision:.3f} | {r.brand_recall:.3f} |"
            )
    return lines


def _keep(flagged: pd.DataFrame, path: str) -> str:
    """Write a child's flags next to the warehouse and return the file (a large return value
    would fill the result queue's pipe before the parent reads it)."""
    out = f"{path}.{os.getpid()}.flagged.parquet"
    flagged[["order_id", "brand_id", "buyer_id", "method"]].to_parquet(out)
    return out


def step_in_memory(path: str) -> dict[str, object]:
    """Read the whole order stream into pandas and detect there (``detect_brushing``)."""
    config = load_config().brushing
    with Warehouse(f"duckdb://{path}", threads=2) as wh:
        read, orders = _timed(lambda: wh.to_arrow(brushing_input(wh.table("orders"))).to_pandas())
        detect, report = _timed(lambda: detect_brushing(orders, config))
    return {
        "read": read,
        "detect": detect,
        "received": len(orders),
        "flagged": _keep(report.flagged, path),
        "review": len(report.review),
        "windows": len(report.windows),
        "blocks": len(report.blocks),
    }


def step_in_warehouse(path: str) -> dict[str, object]:
    """Aggregate in DuckDB and detect over the small frames it returns (``detect_in_warehouse``),
    counting the rows handed to Python."""
    config = load_config().brushing
    received: list[int] = []
    with Warehouse(f"duckdb://{path}", threads=2) as wh:

        def counting(expr: Any) -> Any:
            out = wh.execute(expr)
            received.append(len(out))
            return out

        detect, report = _timed(
            lambda: detect_in_warehouse(wh.table("orders"), None, config, counting)
        )
    return {
        "detect": detect,
        "received": sum(received),
        "largest": max(received),
        "flagged": _keep(report.flagged, path),
        "review": len(report.review),
        "windows": len(report.windows),
        "blocks": len(report.blocks),
    }


def main() -> str:
    out = ["## Order brushing (刷单识别)", ""]
    if ACCURACY:
        out += [
            "Precision / recall of flagged buyers and shops against planted rings:",
            "",
            "| market | orders | rings | method | buyer P | buyer R | shop P | shop R |",
            "|---|---|---|---|---|---|---|---|",
            *_accuracy_rows(),
            "",
        ]
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/bench.duckdb"
        wh = Warehouse(f"duckdb://{path}", threads=2)
        con = wh.duckdb
        gen, _ = _timed(
            lambda: con.execute(
                GENERATE.format(rows=ROWS, shops=SHOPS, buyers=BUYERS, seconds=SECONDS)
            )
        )
        rings = _rings(np.random.default_rng(0))
        wh.insert("orders", rings[ORDER_COLUMNS])
        n = int(wh.execute(wh.table("orders").count()))
        floor, _ = _timed(lambda: con.execute(FLOOR).fetchall())
        wh.close()
        _, mem_peak, memory = measure(step_in_memory, path)
        _, wh_peak, inside = measure(step_in_warehouse, path)
        flagged = pd.read_parquet(str(memory["flagged"]))
        flagged_inside = pd.read_parquet(str(inside["flagged"]))
    if set(flagged_inside["order_id"]) != set(flagged["order_id"]):
        raise AssertionError("the warehouse path flagged other orders than the in-memory one")
    result = evaluate(flagged, rings).set_index("method").loc["combined"]
    in_rings = flagged["order_id"].isin(set(rings["order_id"]))
    loyal_flags = int((~in_rings).sum())
    read, detect = float(memory["read"]), float(memory["detect"])  # type: ignore[arg-type]
    total = read + detect
    inside_s = float(inside["detect"])  # type: ignore[arg-type]
    out += [
        f"Speed: {n:,} orders ({SHOPS:,} shops, {BUYERS:,} buyers, 20 % loyal repeat buyers, "
        f"{rings['ring_id'].nunique()} planted rings); generated in {gen:.1f} s. Each path in "
        "its own process; peak RSS of its process tree.",
        "",
        "| step | seconds | × floor | peak RSS GiB | rows handed to Python |",
        "|---|---|---|---|---|",
        f"| floor: DuckDB orders + distinct buyers per shop × month | {floor:.1f} | 1.0 | | |",
        f"| in memory: read the order stream | {read:.1f} | {read / floor:.1f} | | |",
        f"| in memory: detect (rule + ring blocks + evidence) | {detect:.1f} | "
        f"{detect / floor:.1f} | | |",
        f"| **in memory: total** | **{total:.1f}** | **{total / floor:.1f}** | "
        f"{mem_peak:.2f} | {memory['received']:,} |",
        f"| **in the warehouse: total** (same report) | **{inside_s:.1f}** | "
        f"**{inside_s / floor:.1f}** | {wh_peak:.2f} | {inside['received']:,} "
        f"(largest frame {inside['largest']:,}) |",
        "",
        f"Flagged {len(flagged):,} orders with high confidence ({loyal_flags:,} of them "
        f"outside the planted rings, among {n - len(rings):,} genuine orders), "
        f"{memory['review']:,} flags in all; {memory['windows']:,} brushing periods, "
        f"{memory['blocks']} ring blocks; both paths flag the same orders. Planted rings: buyer "
        f"precision {result['buyer_precision']:.3f}, recall {result['buyer_recall']:.3f}; shop "
        f"precision {result['brand_precision']:.3f}, recall {result['brand_recall']:.3f}. "
        "Target: total under 2× a metrics refresh (≤ 10× floor in the metrics benchmark), "
        "i.e. ≤ 20× floor.",
    ]
    return "\n".join(out)
