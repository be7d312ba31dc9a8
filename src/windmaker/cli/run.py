"""``windmaker run``: the main job after new data (brushing → metrics → trust → diagnosis)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from windmaker.cli.common import WorkspaceOpt, console, err_console, refused, settings_or_exit
from windmaker.config import ConfigError
from windmaker.services.errors import ServiceError
from windmaker.services.run import STEPS, run_pipeline

LABELS = {
    "brushing": "刷单识别 brushing detection",
    "metrics": "STEPS 指标 metrics",
    "trust": "信任分 trust scores",
    "models": "终身价值与投流曲线 lifetime value and traffic curves",
    "diagnosis": "阶梯诊断 diagnosis",
    "done": "完成 done",
}


def run(
    workspace: WorkspaceOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Recompute every metric table")] = False,
    models: Annotated[
        bool,
        typer.Option(
            "--models",
            help="Also fit lifetime value and traffic curves before the diagnosis (slower), "
            "so the P/T scores and the plan use them (同时拟合终身价值与投流曲线)",
        ),
    ] = False,
) -> None:
    """Diagnose the market after new data: brushing, metrics, trust, ladder (一键诊断)."""
    settings = settings_or_exit(workspace)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task(LABELS[STEPS[0]], total=1.0)

        def progress(fraction: float, step: str) -> None:
            bar.update(task, completed=fraction, description=LABELS.get(step, step))

        try:
            result = run_pipeline(settings, progress=progress, full=full, models=models)
        except ConfigError as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        except ServiceError as exc:
            raise refused(exc, settings) from None
    if result.skipped:
        console.print(f"[yellow]{result.skipped}[/yellow]")
        return
    table = Table("step", "seconds", title="windmaker run")
    for step, secs in result.seconds.items():
        table.add_row(LABELS[step], f"{secs:.1f}")
    console.print(table)
    console.print(
        f"{result.brands} brands diagnosed; {result.brushing_orders} orders flagged as brushing "
        f"(detection: {result.brushing}); metrics refresh: {result.metrics}"
    )
    if result.models is not None:
        fitted = result.models
        console.print(
            f"models / 模型: {fitted.clv_brands:,} brands with lifetime value / 终身价值品牌, "
            f"{fitted.traffic_curves:,} traffic curves / 投流曲线"
        )
        if fitted.unchanged:
            console.print(
                f"kept unchanged (same data and settings as the last fit) / 数据与设置未变，"
                f"沿用上次拟合: {', '.join(fitted.unchanged)}"
            )
