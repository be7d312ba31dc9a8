"""``windmaker models fit``: lifetime value and paid-traffic curves for every brand (客户终身价值与投流曲线)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.config import ConfigError
from windmaker.growth.model_feed import CLV_BRAND, CLV_BUYERS, TRAFFIC_CURVES
from windmaker.services.configs import Configs
from windmaker.services.models import BUDGET, UNCHANGED, fit_clv, fit_traffic
from windmaker.workspace import open_warehouse

app = typer.Typer(
    help="Lifetime value and paid-traffic response curves (客户终身价值、投流响应曲线).",
    no_args_is_help=True,
)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


@contextmanager
def _bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar as a ``progress(done, total)`` callback."""
    with _progress() as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _say_kept(label: str, table: pd.DataFrame) -> None:
    since = table.attrs.get(UNCHANGED)
    if since is not None:
        console.print(
            f"{label}: data and settings unchanged since the fit of {since:%Y-%m-%d %H:%M} UTC, "
            "kept (--refit fits again) / 数据与设置未变，沿用上次拟合"
        )


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
    refit: Annotated[
        bool,
        typer.Option(
            "--refit", help="Fit again even when the data and settings are those of the last fit"
        ),
    ] = False,
) -> None:
    """Fit CLV per brand and paid-traffic response curves; store mdl_clv_*, mdl_traffic_curves, mdl_budget."""
    settings = settings_or_exit(workspace)
    try:
        config = Configs.of(settings).models
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    end_day = date.fromisoformat(end) if end else None
    with open_warehouse(settings) as wh:
        if do_clv:
            with _bar("CLV 拟合 fitting") as tick:
                table = fit_clv(wh, config.clv, end_day, progress=tick, force=refit)
            _say_kept("CLV", table)
            if table.empty:
                console.print("CLV: no orders / 无订单")
            else:
                own = int((table["fit_level"] == "brand").sum())
                console.print(
                    f"CLV: {len(table):,} brands / 品牌, {own:,} own fits / 独立拟合, "
                    f"{len(table) - own:,} category-level / 类目级 → {CLV_BRAND}, {CLV_BUYERS}"
                )
        if do_traffic:
            with _bar("投流曲线 curves") as tick:
                curves, budget = fit_traffic(
                    wh, config.traffic, end_day, progress=tick, force=refit
                )
            _say_kept("traffic / 投流", curves)
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
