"""Growth diagnosis speed: stage, bottleneck, plan and portfolio after the metrics refresh.

Measured in the same run, each step in its own process (peak RSS of the process tree):

- **reference refresh**: the metrics benchmark's generated market (1,000 brands, 12 months,
  N orders; default 5 million, ``WINDMAKER_BENCH_DIAGNOSIS_REF_ROWS`` overrides) and a full
  ``windmaker refresh`` of every metric table;
- **diagnosis of that market**: reading ``m_brand_month`` and ``m_capability`` from the
  warehouse, diagnosing every brand-month, storing ``g_stage``, ``g_bottleneck``, ``g_plan``,
  ``g_portfolio`` — the ratio to the refresh is the measured one, same market;
- **diagnosis at 10,000 brands × 24 months**: metric frames of that size synthesised with numpy
  (a planted stage path per brand, metrics and capability indices that follow it), diagnosed
  and stored in a DuckDB file. A refresh of a market that size cannot run on this machine in a
  benchmark, so its time is estimated from the reference refresh as linear in brand-months at
  the same orders per brand-month (20× the 1,000 × 12 reference): the target is diagnosis
  ≤ 10% of that refresh.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REF_ROWS = os.environ.get("WINDMAKER_BENCH_DIAGNOSIS_REF_ROWS", "5000000")
BRANDS = int(os.environ.get("WINDMAKER_BENCH_DIAGNOSIS_BRANDS", "10000"))
MONTHS = int(os.environ.get("WINDMAKER_BENCH_DIAGNOSIS_MONTHS", "24"))
CATEGORIES = 10


def synthetic_metrics(brands: int, months: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``m_brand_month`` and ``m_capability`` frames for ``brands`` × ``months``.

    Each brand follows a Markov stage path (advance 6 %/month, fall 1 %); its GMV, shares and
    repurchase follow the stage with lognormal noise; its five capability indices are the stage
    level plus noise with one planted weak capability. Scores are percentiles of the index
    within category × month, as the metrics engine defines them.
    """
    from windmaker import contract

    rng = np.random.default_rng(seed)
    periods = pd.date_range("2024-11-01", periods=months, freq="MS")
    stage = np.empty((brands, months), dtype=np.int64)
    stage[:, 0] = rng.choice(4, size=brands, p=[0.4, 0.5, 0.09, 0.01])
    for m in range(1, months):
        u = rng.random(brands)
        prev = stage[:, m - 1]
        stage[:, m] = np.clip(prev + (u < 0.06) * (prev < 3) - (u > 0.99) * (prev > 0), 0, 3)
    gmv_level = np.array([4e4, 2.5e5, 1.5e6, 5e6])
    size = np.exp(rng.normal(0, 0.4, brands))[:, None]
    gmv30 = gmv_level[stage] * size * np.exp(rng.normal(0, 0.1, (brands, months)))
    gmv90 = gmv30 * 3
    ids = np.array([f"B{i:06d}" for i in range(brands)], dtype=object)
    cats = np.array([f"cat{i}" for i in range(CATEGORIES)], dtype=object)[
        rng.integers(0, CATEGORIES, brands)
    ]
    n = brands * months
    flat_stage = stage.ravel()
    frame: dict[str, Any] = {
        "brand_id": np.repeat(ids, months),
        "category": np.repeat(cats, months),
        "period": np.tile(periods.values, brands),
        "months_with_sales": np.tile(np.arange(1, months + 1), brands) + 6.0 * (flat_stage > 0),
        "net_gmv_t30d": gmv30.ravel(),
        "net_gmv_t90d": gmv90.ravel(),
        "repurchase_rate_90d": np.clip(0.05 + 0.08 * flat_stage + rng.normal(0, 0.04, n), 0, 1),
        "self_share": np.clip(0.1 + 0.15 * flat_stage + rng.normal(0, 0.08, n), 0, 1),
        "special_supply_share": np.clip(
            np.where(flat_stage >= 2, 0.03 * flat_stage, 0) + rng.normal(0, 0.01, n), 0, 1
        ),
    }
    from windmaker.growth.plan import PLAN_METRICS

    for metric in PLAN_METRICS:
        if metric not in frame:
            frame[metric] = np.abs(rng.normal(1 + flat_stage, 0.5, n))
    bm = pd.DataFrame(frame)
    weak = rng.integers(0, 5, n)
    caps = contract.CAPABILITIES
    index = flat_stage[:, None] + rng.normal(0, 0.5, (n, 5))
    index[np.arange(n), weak] -= 1.5
    cap = pd.DataFrame(
        {
            "brand_id": np.repeat(bm["brand_id"].to_numpy(), 5),
            "category": np.repeat(bm["category"].to_numpy(), 5),
            "period": np.repeat(bm["period"].to_numpy(), 5),
            "capability": np.tile(np.asarray(caps, dtype=object), n),
            "index": index.ravel(),
        }
    )
    cap["score"] = cap.groupby(["category", "period", "capability"])["index"].rank(pct=True) * 100
    return bm, cap


def step_reference_generate(path: str) -> None:
    from benchmarks import bench_metrics

    bench_metrics.step_generate(path)


def step_reference_refresh(path: str) -> str:
    from benchmarks import bench_metrics

    return bench_metrics.step_refresh(path, True)


def step_diagnose_warehouse(path: str) -> str:
    from windmaker.services.configs import Configs
    from windmaker.services.diagnose import run_diagnosis
    from windmaker.warehouse import Warehouse

    with Warehouse(f"duckdb://{path}", threads=2) as wh:
        result, seconds = run_diagnosis(wh, Configs())
    parts = ", ".join(f"{k} {v:.1f}s" for k, v in seconds.items())
    return f"{len(result.stages):,} brand-months; {parts}"


def step_diagnose_synthetic(path: str) -> tuple[float, str]:
    from windmaker.growth import diagnosis as dx
    from windmaker.growth.config import load_ladder_config
    from windmaker.growth.plan import load_playbook
    from windmaker.warehouse import Warehouse

    bm, cap = synthetic_metrics(BRANDS, MONTHS)
    t = time.perf_counter()
    result = dx.diagnose(bm, cap, load_ladder_config(), load_playbook())
    diagnose_s = time.perf_counter() - t
    t = time.perf_counter()
    with Warehouse(f"duckdb://{path}", threads=2) as wh:
        for name, table in dx.result_tables(result).items():
            wh.write(name, table)
    store_s = time.perf_counter() - t
    return diagnose_s + store_s, (
        f"{len(result.stages):,} brand-months, {len(result.bottlenecks):,} gaps, "
        f"{len(result.plans):,} plan rows; diagnose {diagnose_s:.1f}s, store {store_s:.1f}s"
    )


def main() -> str:
    from benchmarks.bench_metrics import measure

    os.environ["WINDMAKER_BENCH_METRICS_ROWS"] = REF_ROWS
    with tempfile.TemporaryDirectory(prefix="wm-bench-diagnosis-") as tmp:
        ref = str(Path(tmp) / "reference.duckdb")
        measure(step_reference_generate, ref)
        refresh_s, refresh_mem, refresh_info = measure(step_reference_refresh, ref)
        same_s, same_mem, same_info = measure(step_diagnose_warehouse, ref)
        _, big_mem, (big_s, big_info) = measure(
            step_diagnose_synthetic, str(Path(tmp) / "big.duckdb")
        )
    scale = (BRANDS * MONTHS) / (1000 * 12)
    est = refresh_s * scale
    rows = f"{int(REF_ROWS) / 1e6:g}M"
    return "\n".join(
        [
            f"## Growth diagnosis ({BRANDS:,} brands × {MONTHS} months; reference refresh "
            f"{rows} orders, 1,000 brands × 12 months)",
            "",
            "| step | time | ratio | peak RSS (process tree) | target |",
            "|---|---|---|---|---|",
            f"| reference: full metrics refresh, 1,000 × 12 | {refresh_s:.1f} s | 1.0× | "
            f"{refresh_mem:.1f} GiB | — |",
            f"| diagnosis of the same market (read, diagnose, store) | {same_s:.1f} s | "
            f"{same_s / refresh_s:.1%} of refresh | {same_mem:.1f} GiB | ≤ 10% |",
            f"| diagnosis, {BRANDS:,} × {MONTHS} synthetic (diagnose, store) | {big_s:.1f} s | "
            f"{big_s / est:.1%} of the estimated refresh ({scale:g}× reference = {est:.0f} s) | "
            f"{big_mem:.1f} GiB | ≤ 10% |",
            "",
            f"Refresh stages: {refresh_info}. Same market: {same_info}. Synthetic: {big_info} "
            "(synthesising the frames is not timed).",
        ]
    )


if __name__ == "__main__":
    print(main())
