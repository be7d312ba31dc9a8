"""Fit the lifetime-value and paid-traffic models and store their tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa

from windmaker.growth.model_feed import CLV_BRAND, CLV_BUYERS, TRAFFIC_CURVES
from windmaker.models import clv, traffic
from windmaker.warehouse import Warehouse

Progress = Callable[[int, int], None]


def _quiet(_done: int, _total: int) -> None:
    return None


BUDGET = "mdl_budget"
_RFM_SCRATCH = "_mdl_clv_rfm"

#: Per-buyer and per-brand money columns stored as DECIMAL(18,2) yuan.
_MONEY_PREFIXES = ("expected_value_", "value_per_buyer_", "monetary_value")
_TRAFFIC_MONEY = ("current_spend", "break_even_spend", "spend_headroom", "beta")
_BUDGET_MONEY = (
    "current_spend",
    "recommended_spend",
    "change",
    "predicted_gmv_current",
    "predicted_gmv_recommended",
)


def _to_arrow(df: pd.DataFrame, money: tuple[str, ...]) -> pa.Table:
    """A DataFrame as Arrow with the money columns as DECIMAL(18,2), rounded to the cent."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    for i, name in enumerate(table.column_names):
        if name.startswith(money) or name in money:
            col = pa.array(df[name].astype(float).round(2), type=pa.float64())
            table = table.set_column(i, name, col.cast(pa.decimal128(18, 2)))
    return table


def fit_clv(
    wh: Warehouse,
    config: clv.ClvConfig,
    end: date | None = None,
    progress: Progress = _quiet,
) -> pd.DataFrame:
    """Fit and store ``mdl_clv_brand`` and ``mdl_clv_buyers``; returns the brand table.

    ``progress(done, total)`` follows the fits.
    """
    orders = wh.table("orders")
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
        brands = wh.table("brands")
        cells = wh.execute(clv.rfm_cells(rfm_t, brands))
        spend = wh.execute(clv.repeat_spend(rfm_t, brands))
        fits = clv.fit_market(cells, spend, config, progress=progress)
        # Scoring reads net GMV as a float: cast in the engine, not one Decimal at a time.
        scored = rfm_t.mutate(net_gmv=rfm_t.net_gmv.cast("float64"))
        buyers = clv.score_buyers(wh.execute(scored), fits, config, end)
    finally:
        wh.drop(_RFM_SCRATCH)
    table = clv.brand_table(fits, buyers, config, end)
    wh.write(CLV_BUYERS, _to_arrow(buyers, _MONEY_PREFIXES))
    wh.write(CLV_BRAND, _to_arrow(table, _MONEY_PREFIXES))
    return table


def fit_traffic(
    wh: Warehouse,
    config: traffic.TrafficConfig,
    end: date | None = None,
    progress: Progress = _quiet,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit and store ``mdl_traffic_curves`` and ``mdl_budget`` (``progress`` as in fit_clv)."""
    ads = wh.table("ad_spend")
    if end is None:
        last = wh.execute(ads.date.max())
        if last is None or pd.isna(last):
            return pd.DataFrame(), pd.DataFrame()
        end = pd.Timestamp(last).date()
    start = end - timedelta(days=config.history_days - 1)
    daily = wh.execute(traffic.daily_paid(wh.table("orders"), ads, start=start, end=end))
    brands = wh.execute(wh.table("brands").select("brand_id", "category"))
    curves_table, curves = traffic.fit_market(
        daily, brands, config, start=start, end=end, progress=progress
    )
    if curves_table.empty:
        return curves_table, pd.DataFrame()
    curves_table.insert(2, "period_end", end)
    budget = traffic.recommend_budgets(curves_table, curves, config)
    wh.write(TRAFFIC_CURVES, _to_arrow(curves_table, _TRAFFIC_MONEY))
    wh.write(BUDGET, _to_arrow(budget, _BUDGET_MONEY))
    return curves_table, budget


def fit_models(wh: Warehouse, config: clv.ModelsConfig) -> dict[str, int]:
    """Fit both models without a display of their own (the main job shows its progress).

    Returns the number of brands with a lifetime-value fit and with a traffic curve.
    """
    table = fit_clv(wh, config.clv)
    curves, _ = fit_traffic(wh, config.traffic)
    return {"clv_brands": len(table), "traffic_curves": len(curves)}
