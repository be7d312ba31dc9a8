"""``windmaker trust``: order-brushing detection, trust scores and trust gates (信任分与刷单识别)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.config import ConfigError, Settings
from windmaker.models import brushing, trust
from windmaker.services.configs import Configs
from windmaker.services.trust import (
    TRUST_ALERTS,
    TRUST_SCORES,
    run_brushing,
    run_scores,
)
from windmaker.workspace import open_warehouse

app = typer.Typer(
    help="Trust scores, order-brushing detection and trust gates (信任分、刷单识别、信任门槛).",
    no_args_is_help=True,
)


def _config(settings: Settings) -> trust.TrustConfig:
    try:
        return Configs.of(settings).trust
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


def _print_brushing(report: brushing.BrushingReport) -> None:
    f = report.review
    table = Table(title="刷单识别 order brushing")
    for col in ("confidence", "signals", "orders", "shops", "buyers"):
        table.add_column(col, justify="left" if col in ("confidence", "signals") else "right")
    for (conf, signals), g in f.groupby(["confidence", "signals"]):
        table.add_row(
            str(conf),
            str(signals),
            f"{len(g):,}",
            f"{g['brand_id'].nunique():,}",
            f"{g['buyer_id'].nunique():,}",
        )
    table.add_row(
        "all", "", f"{len(f):,}", f"{f['brand_id'].nunique():,}", f"{f['buyer_id'].nunique():,}"
    )
    console.print(table)
    high = int((f["confidence"] == brushing.CONFIDENCE_HIGH).sum())
    console.print(
        f"{high:,} high-confidence orders left out of GMV (高置信，剔除), "
        f"{len(f) - high:,} for review (待复核); "
        f"{len(report.windows):,} brushing periods (刷单时段), {len(report.blocks)} rings (团伙)"
    )


@app.command("brushing")
def brushing_command(
    workspace: WorkspaceOpt = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="brushing_rings.parquet of a simulated market: print precision/recall"),
    ] = None,
) -> None:
    """Detect order brushing: high-confidence orders in mdl_brushing_orders, every flag with its
    evidence in mdl_brushing_review (识别刷单：高置信订单剔除，其余列出待复核)."""
    settings = settings_or_exit(workspace)
    config = _config(settings)
    with open_warehouse(settings) as wh, _progress() as bar:
        task = bar.add_task("刷单识别 detecting brushing", total=1)
        report = run_brushing(wh, config).report
        bar.update(task, completed=1, description="完成 done")
    _print_brushing(report)
    if truth is not None:
        result = brushing.evaluate(report.flagged, pd.read_parquet(truth))
        table = Table(title="precision / recall vs planted rings")
        for col in result.columns:
            table.add_column(col)
        for row in result.itertuples(index=False):
            table.add_row(row[0], *(f"{v:.3f}" for v in row[1:]))
        console.print(table)


@app.command("scores")
def scores_command(workspace: WorkspaceOpt = None) -> None:
    """Trust scores of every brand and account, alerts and provider violations (信任分与预警)."""
    settings = settings_or_exit(workspace)
    config = _config(settings)
    with open_warehouse(settings) as wh, _progress() as bar:
        task = bar.add_task("信任分 trust scores", total=1)
        scores = run_scores(wh, config)
        alerts = wh.execute(wh.table(TRUST_ALERTS))
        bar.update(task, completed=1, description="完成 done")
    _print_scores(scores, alerts)


@app.command("run")
def run_command(workspace: WorkspaceOpt = None) -> None:
    """Brushing detection, then trust scores and gates (先识别刷单，再计算信任分与门槛)."""
    settings = settings_or_exit(workspace)
    config = _config(settings)
    with open_warehouse(settings) as wh, _progress() as bar:
        task = bar.add_task("刷单识别 detecting brushing", total=2)
        report = run_brushing(wh, config).report
        bar.update(task, completed=1, description="信任分 trust scores")
        scores = run_scores(wh, config)
        alerts = wh.execute(wh.table(TRUST_ALERTS))
        bar.update(task, completed=2, description="完成 done")
    _print_brushing(report)
    _print_scores(scores, alerts)


def _print_scores(scores: pd.DataFrame, alerts: pd.DataFrame) -> None:
    periods = pd.to_datetime(scores["period"])
    last = scores[periods == periods.max()]
    table = Table(title=f"信任分 trust scores, period {last['period'].max()}")
    for col in ("entity", "scored", "insufficient data", "median", "alerts"):
        table.add_column(col, justify="left" if col == "entity" else "right")
    recent = alerts[pd.to_datetime(alerts["period"]) == periods.max()]
    for entity, g in last.groupby("entity"):
        ok = g[g["status"] == trust.STATUS_OK]
        kinds = ("low_trust", "brushing") if entity == "brand" else ("low_trust_account",)
        n_alerts = int(recent["kind"].isin(kinds).sum()) if len(recent) else 0
        table.add_row(
            str(entity),
            f"{len(ok):,}",
            f"{len(g) - len(ok):,}",
            f"{ok['score'].median():.1f}" if len(ok) else "-",
            f"{n_alerts:,}",
        )
    console.print(table)


@app.command("show")
def show_command(
    entity_id: Annotated[str, typer.Argument(help="brand_id or account_id")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Why a brand or account has its trust score: each component's points (信任分构成)."""
    settings = settings_or_exit(workspace)
    config = _config(settings)
    with open_warehouse(settings) as wh:
        if not wh.has_table(TRUST_SCORES):
            err_console.print("[red]error:[/red] no trust scores yet; run `windmaker trust run`")
            raise typer.Exit(2)
        t = wh.table(TRUST_SCORES)
        rows = wh.execute(t.filter(t.entity_id == entity_id))
    if rows.empty:
        err_console.print(f"[red]error:[/red] no trust score for {entity_id!r}")
        raise typer.Exit(1)
    row = rows.sort_values("period").iloc[-1]
    if row["status"] != trust.STATUS_OK:
        console.print(
            f"{entity_id} ({row['period']}): 数据不足 insufficient data — {row['orders']} orders, "
            f"need {config.score.min_orders}"
        )
        return
    period = pd.Timestamp(row["period"]).date()
    table = Table(title=f"{entity_id} {row['entity']} · {period} · trust {row['score']:.1f}")
    for col in ("component", "指标", "value", "category ref", "points", "lost"):
        table.add_column(col, justify="left" if col in ("component", "指标") else "right")
    for k, zh, value, ref, lost in trust.explain(row, config.score):
        # a component without data is scored at its reference; say so instead of "nan"
        shown = "无数据 no data" if pd.isna(value) else f"{value:.4g}"
        table.add_row(k, zh, shown, f"{ref:.4g}", f"{row[f'{k}_points']:.1f}", f"{lost:.1f}")
    console.print(table)
