"""``windmaker models fit``: lifetime value and paid-traffic curves for every brand (客户终身价值与投流曲线)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import date, timedelta
from typing import Annotated

import pandas as pd
import pyarrow as pa
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.config import ConfigError
from windmaker.growth.model_feed import CLV_BRAND, CLV_BUYERS, TRAFFIC_CURVES
from windmaker.models import clv, traffic
from windmaker.warehouse import Warehouse
from windmaker.workspace import open_warehouse

app = typer.Typer(
    help="Lifetime value and paid-traffic response curves (客户终身价值、投流响应曲线).",
    no_args_is_help=True,
)

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


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


def _bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar as a ``progress(done, total)`` callback."""
    with _progress() as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def fit_clv(
    wh: Warehouse,
    config: clv.ClvConfig,
    end: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Fit and store ``mdl_clv_brand`` and ``mdl_clv_buyers``; returns the brand table.

    ``progress(done, total)`` follows the fits; without it a progress bar is shown.
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
        with (
            contextmanager(_bar)("CLV 拟合 fitting")
            if progress is None
            else nullcontext(progress) as tick
        ):
            fits = clv.fit_market(cells, spend, config, progress=tick)
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
    progress: Callable[[int, int], None] | None = None,
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
    with (
        contextmanager(_bar)("投流曲线 curves")
        if progress is None
        else nullcontext(progress) as tick
    ):
        curves_table, curves = traffic.fit_market(
            daily, brands, config, start=start, end=end, progress=tick
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

    def quiet(_done: int, _total: int) -> None:
        return None

    table = fit_clv(wh, config.clv, progress=quiet)
    curves, _ = fit_traffic(wh, config.traffic, progress=quiet)
    return {"clv_brands": len(table), "traffic_curves": len(curves)}


@app.command("fit")
def fit(
    workspace: WorkspaceOpt = None,
    do_clv: Annotated[bool, typer.Option("--clv/--no-clv", help="Fit lifetime value")] = True,
    do_traffic: Annotated[
        bool, typer.Option("--traffic/--no-traffic", help="Fit paid-traffic curves")
    ] = True,
    end: Annotated[
        str | None, typer.Option(help="Last day observed, YYYY-MM-DD (default: last in data)")
    ] = None,
) -> None:
    """Fit CLV per brand and paid-traffic response curves; store mdl_clv_*, mdl_traffic_curves, mdl_budget."""
    settings = settings_or_exit(workspace)
    try:
        config = clv.load_models_config(settings.config_path)
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    end_day = date.fromisoformat(end) if end else None
    with open_warehouse(settings) as wh:
        if do_clv:
            table = fit_clv(wh, config.clv, end_day)
            if table.empty:
                console.print("CLV: no orders / 无订单")
            else:
                own = int((table["fit_level"] == "brand").sum())
                console.print(
                    f"CLV: {len(table):,} brands / 品牌, {own:,} own fits / 独立拟合, "
                    f"{len(table) - own:,} category-level / 类目级 → {CLV_BRAND}, {CLV_BUYERS}"
                )
        if do_traffic:
            curves, budget = fit_traffic(wh, config.traffic, end_day)
            if curves.empty:
                console.print("traffic: no brand with enough spend days / 无足够投放天数的品牌")
            else:
                gain = (
                    budget["predicted_gmv_recommended"].sum()
                    / budget["predicted_gmv_current"].sum()
                    - 1
                    if len(budget)
                    else 0.0
                )
                console.print(
                    f"traffic / 投流: {len(curves):,} curves / 曲线 → {TRAFFIC_CURVES}; "
                    f"budget / 预算 → {BUDGET} (predicted paid GMV {gain:+.1%} at the same spend)"
                )
        console.print(
            "`windmaker diagnose --all` now blends them into the P/T scores and plans "
            "/ 重新诊断后模型进入P/T得分与行动计划"
        )
