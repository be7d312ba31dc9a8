"""Paid-traffic curve fits: the compiled objective against the library's, compiled by PyTensor.

The market is the simulator's (``BENCH_TRAFFIC_BRANDS`` brands, default 300, × 12 months, seed
7), ingested into a scratch workspace, or the workspace ``BENCH_TRAFFIC_WORKSPACE`` names. Every
brand with enough days of spend is fitted twice in this process, on one core, with the shipped
settings (Hill saturation, three starting α, S ∈ {1, 2}):

- **reference**: the objective built from pymc-marketing's ``geometric_adstock`` and
  ``hill_function`` and compiled by PyTensor (``tests/models/traffic_library.py``), the fit's
  objective before the compiled loops;
- **compiled**: :mod:`windmaker.models.traffic.objective`, what the fit uses.

Reported: milliseconds per brand, the ratio, and the largest difference between the two fits'
curves (α absolute; K, S and β relative).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd

from windmaker import contract
from windmaker.models import traffic
from windmaker.models.traffic import objective

BRANDS = int(os.environ.get("BENCH_TRAFFIC_BRANDS", "300"))


def _workspace(root: Path) -> Path:
    from windmaker.ingest import ingest_files
    from windmaker.simulator import MarketConfig, simulate
    from windmaker.workspace import init_workspace

    settings = init_workspace(root / "ws")
    simulate(MarketConfig(brands=BRANDS, months=12, seed=7), root / "market")
    ingest_files(settings, sorted((root / "market").glob("*.parquet")), progress=False)
    return settings.workspace


def _library(l_max: int) -> tuple[Any, Any]:
    """``objective.nlp`` and ``objective.predict`` with the library's compiled graph inside."""
    from tests.models.traffic_library import library_objective

    fn, mu = library_objective("hill", l_max)

    def nlp(*args: np.ndarray, **_: Any) -> tuple[float, np.ndarray]:
        val, grad = fn(*args)
        # PyTensor reuses its output buffers between calls: copy before SciPy keeps a reference.
        return float(val), np.array(grad, dtype=float, copy=True)

    def predict(theta: np.ndarray, s: np.ndarray, **_: Any) -> np.ndarray:
        return np.asarray(mu(theta, s))

    return nlp, predict


def _series(workspace: Path, config: traffic.TrafficConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    from windmaker.config import load_settings
    from windmaker.workspace import open_warehouse

    with open_warehouse(load_settings(workspace)) as wh:
        ads = wh.table(contract.AD_SPEND.name)
        end = pd.Timestamp(wh.execute(ads.date.max())).date()
        start = end - timedelta(days=config.history_days - 1)
        daily = wh.execute(
            traffic.daily_paid(wh.table(contract.ORDERS.name), ads, start=start, end=end)
        )
    series = traffic.dense_days(daily, start, end)
    return [
        (g["spend"].to_numpy(), g["paid_gmv"].to_numpy())
        for g in series.values()
        if int((g["spend"] > 0).sum()) >= config.min_spend_days
    ]


def _fit_all(
    series: list[tuple[np.ndarray, np.ndarray]], config: traffic.TrafficConfig
) -> tuple[float, list[Any]]:
    clock = time.perf_counter()
    curves = [traffic.fit_curve(s, y, config) for s, y in series]
    return time.perf_counter() - clock, curves


def main() -> str:
    config = traffic.TrafficConfig(workers=1)
    scratch = Path(tempfile.mkdtemp(prefix="bench-traffic-"))
    try:
        given = os.environ.get("BENCH_TRAFFIC_WORKSPACE")
        series = _series(Path(given) if given else _workspace(scratch), config)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    nlp, predict = _library(config.adstock_max_lag_days)
    traffic.fit_curve(*series[0], config)  # the compiled loops loaded before timing
    with mock.patch.object(objective, "nlp", nlp), mock.patch.object(objective, "predict", predict):
        ref_s, ref = _fit_all(series, config)
    new_s, new = _fit_all(series, config)
    d_alpha = max(abs(a.alpha - b.alpha) for a, b in zip(ref, new, strict=True))
    d_rel = max(
        abs(getattr(b, k) / getattr(a, k) - 1)
        for a, b in zip(ref, new, strict=True)
        for k in ("kappa", "shape", "beta")
    )
    n = len(series)
    return "\n".join(
        [
            "## Paid-traffic curve fits: compiled objective against the library's",
            "",
            f"{n:,} brands' curves (Hill, shipped settings), one process, in the same run.",
            "",
            "| objective | total | per brand | × reference |",
            "|---|---:|---:|---:|",
            f"| pymc-marketing's, compiled by PyTensor (reference) | {ref_s:.1f} s | "
            f"{1000 * ref_s / n:.1f} ms | 1.00 |",
            f"| compiled loops (`traffic/objective.py`) | {new_s:.1f} s | "
            f"{1000 * new_s / n:.1f} ms | **{ref_s / new_s:.2f}× faster** |",
            "",
            f"Largest difference between the two fits over every brand: α {d_alpha:.1e} "
            f"(absolute), K, S and β {d_rel:.1e} (relative).",
        ]
    )
