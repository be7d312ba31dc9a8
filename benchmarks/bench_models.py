"""Lifetime-value fit of a whole market at two sizes, its scaling, and one library fit.

A synthetic market (``BENCH_MODELS_BRANDS`` brands, Zipf-sized, about ``BENCH_MODELS_ORDERS``
orders from a BG/NBD purchase process) goes into an in-memory DuckDB warehouse; the run times
the RFM summary (Ibis), the per-brand fits (one compiled likelihood reused, buyers as weighted
cells) and the per-buyer scoring. The same market is run at a tenth of the size first
(``BENCH_MODELS_SMALL_ORDERS``, 0 to skip) so the report can say how each step grows with
orders: the 20M-order time is projected with the measured exponent of each step
(t ∝ orders^k between the two sizes), or measured outright when ``BENCH_MODELS_ORDERS`` is at
least 20M. ``BENCH_MODELS_MARKET=simulator`` fits the market simulator's market instead
(``BENCH_MODELS_SIM_BRANDS`` brands × 12 months, seed 7 like the demo; 3,300 brands give about
20M orders): many brands of simulator size, each fitted on its own, which is what a platform's
market looks like and what costs most per order. The reference, measured in the same run, is pymc-marketing's own
``BetaGeoModel.fit(method="map")`` on a sample of the largest brand, which builds and compiles
a model per fit, against this module's BG/NBD fit of the same sample.
"""

from __future__ import annotations

import math
import os
import resource
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from windmaker.models import clv
from windmaker.models.clv import fitting as clv_fitting
from windmaker.warehouse import Warehouse

BRANDS = int(os.environ.get("BENCH_MODELS_BRANDS", "200"))
ORDERS = int(os.environ.get("BENCH_MODELS_ORDERS", "1000000"))
SMALL_ORDERS = int(os.environ.get("BENCH_MODELS_SMALL_ORDERS", str(ORDERS // 10)))
#: Buyers in the library reference's sample of the largest brand.
LIBRARY_SAMPLE = int(os.environ.get("BENCH_MODELS_LIBRARY_SAMPLE", "20000"))
TARGET_ORDERS = 20_000_000
#: Mean orders per buyer of the simulated process (measured), to size the market in orders.
ORDERS_PER_BUYER = 3.8
END = date(2026, 10, 31)
MARKET = os.environ.get("BENCH_MODELS_MARKET", "zipf")
SIM_BRANDS = int(os.environ.get("BENCH_MODELS_SIM_BRANDS", "3300"))


def _ids(prefix: str, values: np.ndarray) -> pa.Array:
    """String ids built in Arrow: NumPy's string arrays cost gigabytes at 20M rows."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(values), pa.string()), "")


def _market(orders_wanted: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """Orders of a BG/NBD market: buyers arrive over the year, buy at Gamma rates, drop out."""
    rng = np.random.default_rng(seed)
    buyers = max(int(orders_wanted / ORDERS_PER_BUYER), 1)
    brand = rng.zipf(1.6, buyers) % BRANDS
    first = rng.integers(0, 365, buyers)
    lam = rng.gamma(0.8, 1 / 30, buyers)  # purchases per day
    p = rng.beta(0.7, 3.0, buyers)
    life = first + rng.geometric(np.maximum(p, 1e-3)) / np.maximum(lam, 1e-4)
    span = np.minimum(life, 365) - first
    n = 1 + rng.poisson(np.maximum(span, 0) * lam)
    idx = np.repeat(np.arange(buyers), n)
    offset = np.concatenate([[0], rng.uniform(0, 1, int(n.sum()) - 1)])
    days = first[idx] + (offset * np.maximum(span[idx], 0)).astype(int)
    days[np.r_[0, np.cumsum(n)[:-1]]] = first  # first order on the first day
    start = np.datetime64("2025-11-01T12:00:00", "s")
    k = len(idx)
    names = pa.array([f"B{i}" for i in range(BRANDS)])
    orders = pa.table(
        {
            "order_id": _ids("O", np.arange(k)),
            "paid_at": pa.array(start + days.astype("timedelta64[D]")),
            "brand_id": names.take(pa.array(brand[idx])),
            "sku_id": pa.repeat("s", k),
            "account_id": pa.repeat("a", k),
            "session_id": pa.nulls(k, pa.string()),
            "buyer_id": _ids("U", idx),
            "traffic_source": pa.repeat("other", k),
            "quantity": pa.array(np.ones(k, dtype=np.int64)),
            "amount": pa.array(np.round(rng.gamma(4, 20, k), 2)).cast(pa.decimal128(18, 2)),
            "commission": pa.array(np.zeros(k)).cast(pa.decimal128(18, 2)),
            "status": pa.repeat("completed", k),
            "refund_amount": pa.array(np.zeros(k)).cast(pa.decimal128(18, 2)),
            "refunded_at": pa.nulls(k, pa.timestamp("us")),
            "promised_ship_by": pa.nulls(k, pa.timestamp("us")),
            "shipped_at": pa.nulls(k, pa.timestamp("us")),
        }
    )
    brands = pa.table(
        {
            "brand_id": names,
            "name": names,
            "category": [f"c{i % 8}" for i in range(BRANDS)],
            "origin": ["traditional"] * BRANDS,
            "joined_at": pa.array([pd.Timestamp("2025-01-01")] * BRANDS, pa.timestamp("us")),
        }
    )
    return orders, brands


@dataclass
class Run:
    """One market size: its counts and the seconds of each step."""

    orders: int
    buyers: int
    cells: int
    own_fits: int
    fallback_brands: int
    pareto_kept: int
    largest_buyers: int
    largest_cells: int
    rfm: float
    fit: float
    score: float
    sample: pd.DataFrame

    @property
    def total(self) -> float:
        return self.rfm + self.fit + self.score


def _simulated(brands: int) -> tuple[pa.Table, pa.Table, date]:
    """The market simulator's orders and brands (12 months, seed 7) and its last order day."""
    from windmaker.simulator import MarketConfig, simulate

    folder = Path(tempfile.mkdtemp(prefix="bench-models-"))
    try:
        simulate(MarketConfig(brands=brands, months=12, seed=7), folder)
        orders = pq.read_table(folder / "orders.parquet")
        table = pq.read_table(folder / "brands.parquet")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    last = pc.max(orders["paid_at"]).as_py()
    return orders, table, last.date()


def _run(orders_wanted: int, cfg: clv.ClvConfig) -> Run:
    if MARKET == "simulator":
        orders, brands, end = _simulated(SIM_BRANDS)
    else:
        (orders, brands), end = _market(orders_wanted), END
    wh = Warehouse("duckdb://")
    wh.ensure_source_tables()
    wh.write("orders", orders)
    wh.write("brands", brands)
    n_orders = orders.num_rows
    del orders

    t0 = time.perf_counter()
    expr = clv.rfm_summary(wh.table("orders"), observation_end=end, time_unit=cfg.time_unit)
    wh.write("_rfm", expr)
    rfm_t = wh.table("_rfm")
    cells = wh.execute(clv.rfm_cells(rfm_t, wh.table("brands")))
    spend = wh.execute(clv.repeat_spend(rfm_t, wh.table("brands")))
    t_rfm = time.perf_counter() - t0

    t0 = time.perf_counter()
    fits = clv.fit_market(cells, spend, cfg)
    t_fit = time.perf_counter() - t0

    t0 = time.perf_counter()
    rfm = wh.execute(rfm_t)
    buyers = clv.score_buyers(rfm, fits, cfg, end)
    clv.brand_table(fits, buyers, cfg, end)
    t_score = time.perf_counter() - t0
    wh.close()

    per_brand = cells.groupby("brand_id")["buyers"].agg(["sum", "size"])
    largest = per_brand["sum"].idxmax()
    sample = rfm[rfm["brand_id"] == largest].head(LIBRARY_SAMPLE)
    own = [f for f in fits if f.repeat_level == "brand"]
    return Run(
        orders=n_orders,
        buyers=len(rfm),
        cells=len(cells),
        own_fits=len(own),
        fallback_brands=sum(f.repeat_level != "brand" for f in fits),
        pareto_kept=sum(f.repeat.model == "pareto_nbd" for f in own),
        largest_buyers=int(per_brand.loc[largest, "sum"]),
        largest_cells=int(per_brand.loc[largest, "size"]),
        rfm=t_rfm,
        fit=t_fit,
        score=t_score,
        sample=sample[["buyer_id", "frequency", "recency", "T"]].reset_index(drop=True),
    )


def _library_fit(rfm: pd.DataFrame) -> float:
    """Seconds of pymc-marketing's BetaGeoModel MAP fit (HalfFlat priors) on ``rfm``."""
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import BetaGeoModel

    data = rfm.rename(columns={"buyer_id": "customer_id"})
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BetaGeoModel(model_config={k: Prior("HalfFlat") for k in ("r", "alpha", "a", "b")})
        model.fit(data=data, method="map", progressbar=False)
    return time.perf_counter() - t0


def _our_fit(rfm: pd.DataFrame) -> float:
    """Seconds of this module's BG/NBD fit of ``rfm`` as the market fit runs it (cells)."""
    t0 = time.perf_counter()
    c = rfm.groupby(["frequency", "recency", "T"], as_index=False).size()
    clv.fit_bg_nbd(c["frequency"], c["recency"], c["T"], c["size"])
    return time.perf_counter() - t0


def _exponent(small: float, large: float, n_small: int, n_large: int) -> float:
    """k of t ∝ orders^k between two runs."""
    return math.log(max(large, 1e-9) / max(small, 1e-9)) / math.log(n_large / n_small)


def main() -> str:
    cfg = clv.load_models_config().clv
    clv_fitting.warm_up()  # load the compiled likelihoods outside the timings: once per process
    two_sizes = MARKET != "simulator" and 0 < SMALL_ORDERS < ORDERS
    runs = [_run(SMALL_ORDERS, cfg)] if two_sizes else []
    runs.append(_run(ORDERS, cfg))
    big = runs[-1]
    t_lib = _library_fit(big.sample)
    t_ours = _our_fit(big.sample)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    load = os.getloadavg()

    def row(label: str, get: object) -> str:
        return f"| {label} | " + " | ".join(str(get(r)) for r in runs) + " |"  # type: ignore[operator]

    head = "| | " + " | ".join(f"{r.orders:,} orders" for r in runs) + " |"
    market = (
        f"The market simulator's market, {SIM_BRANDS:,} brands × 12 months (seed 7)"
        if MARKET == "simulator"
        else f"Synthetic BG/NBD market, {BRANDS} Zipf-sized brands in 8 categories"
    )
    lines = [
        "## models: lifetime value for every brand",
        "",
        f"{market}, BG/NBD + "
        f"{'Pareto/NBD + ' if cfg.pareto_nbd else ''}Gamma-Gamma per brand with at least "
        f"{cfg.min_buyers} buyers (category-level fits for the rest). Load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min); peak memory "
        f"{peak_gib:.1f} GiB.",
        "",
        head,
        "|---" * (len(runs) + 1) + "|",
        row("buyers", lambda r: f"{r.buyers:,}"),
        row("weighted cells (fit input)", lambda r: f"{r.cells:,}"),
        row(
            "largest brand: buyers / cells", lambda r: f"{r.largest_buyers:,} / {r.largest_cells:,}"
        ),
        row(
            "brands fitted on their own / on their category",
            lambda r: f"{r.own_fits} / {r.fallback_brands}",
        ),
        row("Pareto/NBD kept", lambda r: r.pareto_kept),
        row("RFM summary, cells (Ibis on DuckDB), s", lambda r: f"{r.rfm:.1f}"),
        row("**fits, all brands, s**", lambda r: f"**{r.fit:.1f}**"),
        row("fit per own brand, s", lambda r: f"{r.fit / max(r.own_fits, 1):.2f}"),
        row("per-buyer scoring and segments, s", lambda r: f"{r.score:.1f}"),
        row("total, s", lambda r: f"{r.total:.1f}"),
        "",
        f'Reference, same run: pymc-marketing `BetaGeoModel.fit(method="map")` on '
        f"{len(big.sample):,} buyers of the largest brand took {t_lib:.1f} s; this module's "
        f"BG/NBD fit of the same buyers {t_ours:.2f} s (ratio {t_lib / max(t_ours, 1e-9):.0f}x). "
        f"The whole {big.orders:,}-order market's fits = {big.fit / t_lib:.1f} library "
        "single-brand fits.",
        "",
    ]
    if big.orders >= TARGET_ORDERS:
        lines.append(
            f"**Measured at {big.orders / 1e6:.1f}M orders**: fits {big.fit / 60:.1f} min, "
            f"whole run {big.total / 60:.1f} min (target: fits < 10 min)."
        )
    elif len(runs) == 2:
        small = runs[0]
        scale = TARGET_ORDERS / big.orders
        parts = []
        projected = {}
        for step in ("rfm", "fit", "score"):
            k = _exponent(getattr(small, step), getattr(big, step), small.orders, big.orders)
            projected[step] = getattr(big, step) * scale ** max(k, 0.0)
            parts.append(f"{step} k = {k:.2f}")
        linear = big.total * scale
        lines.append(
            f"Growth with orders between the two sizes (t ∝ orders^k): {', '.join(parts)}. "
            f"Projected for {TARGET_ORDERS / 1e6:.0f}M orders with those exponents: fits "
            f"{projected['fit'] / 60:.1f} min, whole run {sum(projected.values()) / 60:.1f} min "
            f"(linear in orders: {linear / 60:.1f} min; target: fits < 10 min)."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
