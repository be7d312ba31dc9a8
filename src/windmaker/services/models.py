"""Fit the lifetime-value and paid-traffic models and store their tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd

from windmaker import contract
from windmaker.models import clv, traffic
from windmaker.results import BUDGET, CLV_BRAND, CLV_BUYERS, TRAFFIC_CURVES
from windmaker.warehouse import Warehouse

Progress = Callable[[int, int], None]


def _quiet(_done: int, _total: int) -> None:
    return None


#: A working table of the lifetime-value fit, dropped when it is done.
_RFM_SCRATCH = "_mdl_clv_rfm"


def fit_clv(
    wh: Warehouse,
    config: clv.ClvConfig,
    end: date | None = None,
    progress: Progress = _quiet,
) -> pd.DataFrame:
    """Fit and store ``mdl_clv_brand`` and ``mdl_clv_buyers``; returns the brand table.

    ``progress(done, total)`` follows the fits. The money columns are stored as DECIMAL(18,2)
    by the warehouse (the results contract names them).
    """
    orders = wh.table(contract.ORDERS.name)
    if end is None:
        last = wh.execute(orders.paid_at.max())
        if last is None or pd.isna(last):
            return pd.DataFrame()
        end = pd.Timestamp(last).date()
    # Every buyer's whole history up to ``end``: no window, so no buyer is left out.
    rfm_expr = clv.rfm_summary(orders, observation_end=end, time_unit=config.time_unit)
    wh.write(_RFM_SCRATCH, rfm_expr)
    try:
        rfm_t = wh.table(_RFM_SCRATCH)
        brands = wh.table(contract.BRANDS.name)
        cells = wh.execute(clv.rfm_cells(rfm_t, brands))
        spend = wh.execute(clv.repeat_spend(rfm_t, brands))
        fits = clv.fit_market(cells, spend, config, progress=progress)
        # Scoring reads net GMV as a float: cast in the engine, not one Decimal at a time.
        scored = rfm_t.mutate(net_gmv=rfm_t.net_gmv.cast("float64"))
        buyers = clv.score_buyers(wh.execute(scored), fits, config, end)
    finally:
        wh.drop(_RFM_SCRATCH)
    table = clv.brand_table(fits, buyers, config, end)
    wh.write(CLV_BUYERS, buyers)
    wh.write(CLV_BRAND, table)
    return table


def fit_traffic(
    wh: Warehouse,
    config: traffic.TrafficConfig,
    end: date | None = None,
    progress: Progress = _quiet,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit and store ``mdl_traffic_curves`` and ``mdl_budget`` (``progress`` as in fit_clv)."""
    ads = wh.table(contract.AD_SPEND.name)
    if end is None:
        last = wh.execute(ads.date.max())
        if last is None or pd.isna(last):
            return pd.DataFrame(), pd.DataFrame()
        end = pd.Timestamp(last).date()
    start = end - timedelta(days=config.history_days - 1)
    daily = wh.execute(
        traffic.daily_paid(wh.table(contract.ORDERS.name), ads, start=start, end=end)
    )
    brands = wh.execute(wh.table(contract.BRANDS.name).select("brand_id", "category"))
    curves_table, curves = traffic.fit_market(
        daily, brands, config, start=start, end=end, progress=progress
    )
    if curves_table.empty:
        return curves_table, pd.DataFrame()
    curves_table.insert(2, "period_end", end)
    budget = traffic.recommend_budgets(curves_table, curves, config)
    wh.write(TRAFFIC_CURVES, curves_table)
    wh.write(BUDGET, budget)
    return curves_table, budget


def fit_models(wh: Warehouse, config: clv.ModelsConfig) -> dict[str, int]:
    """Fit both models without a display of their own (the main job shows its progress).

    Returns the number of brands with a lifetime-value fit and with a traffic curve.
    """
    table = fit_clv(wh, config.clv)
    curves, _ = fit_traffic(wh, config.traffic)
    return {"clv_brands": len(table), "traffic_curves": len(curves)}
