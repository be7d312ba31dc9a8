"""Lifetime-value brand fits of the demo's market on one process against one per core.

The market is the simulator's, as ``make demo`` makes it (``BENCH_FIT_BRANDS`` brands, default
1,000, × 12 months, seed 7), ingested into a scratch workspace; its RFM cells are read once and
``clv.fit_market`` runs twice on them in the same run: ``workers=1`` (the reference: every brand
in this process) and ``workers=0`` (one process per core). Wall time and CPU time (this process
and its workers) are reported; CPU above wall means both cores were busy. The fits of the two
runs are compared brand for brand (they must be equal). ``BENCH_FIT_WORKSPACE`` reuses an
existing diagnosed workspace instead of simulating one.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from windmaker import contract
from windmaker.models import clv

BRANDS = int(os.environ.get("BENCH_FIT_BRANDS", "1000"))


def _cpu() -> float:
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _workspace(root: Path) -> Path:
    from windmaker.ingest import ingest_files
    from windmaker.simulator import MarketConfig, simulate
    from windmaker.workspace import init_workspace

    settings = init_workspace(root / "ws")
    simulate(MarketConfig(brands=BRANDS, months=12, seed=7), root / "market")
    ingest_files(settings, sorted((root / "market").glob("*.parquet")), progress=False)
    return settings.workspace


def main() -> str:
    from windmaker.config import load_settings
    from windmaker.services.configs import Configs
    from windmaker.workspace import open_warehouse

    scratch = Path(tempfile.mkdtemp(prefix="bench-fit-"))
    try:
        given = os.environ.get("BENCH_FIT_WORKSPACE")
        settings = load_settings(Path(given) if given else _workspace(scratch))
        config = Configs.of(settings).models.clv
        with open_warehouse(settings) as wh:
            orders = wh.table(contract.ORDERS.name)
            end = pd.Timestamp(wh.execute(orders.paid_at.max())).date()
            rfm = clv.rfm_summary(orders, observation_end=end, time_unit=config.time_unit)
            cells = wh.execute(clv.rfm_cells(rfm, wh.table(contract.BRANDS.name)))
            spend = wh.execute(clv.repeat_spend(rfm, wh.table(contract.BRANDS.name)))
        runs = {}
        for label, workers in (("one process", 1), ("one per core", 0)):
            wall0, cpu0 = time.perf_counter(), _cpu()
            fits = clv.fit_market(cells, spend, config.model_copy(update={"workers": workers}))
            runs[label] = (time.perf_counter() - wall0, _cpu() - cpu0, fits)
        (w1, c1, f1), (wn, cn, fn) = runs["one process"], runs["one per core"]
        same = all(
            a.brand_id == b.brand_id and a.repeat.params == b.repeat.params
            for a, b in zip(f1, fn, strict=True)
        )
        own = sum(f.repeat_level == "brand" for f in f1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return "\n".join(
        [
            "## Lifetime-value fits on every core",
            "",
            f"{cells['brand_id'].nunique():,} brands ({own:,} with a fit of their own), "
            f"{os.cpu_count()} cores; fits equal brand for brand: {'yes' if same else 'NO'}.",
            "",
            "| run | wall | CPU (all processes) | CPU / wall |",
            "|---|---|---|---|",
            f"| one process (reference) | {w1:.1f} s | {c1:.1f} s | {c1 / w1:.2f} |",
            f"| one per core | {wn:.1f} s | {cn:.1f} s | {cn / wn:.2f} |",
            "",
            f"Speed-up: **{w1 / wn:.2f}×** the one-process fit.",
        ]
    )
