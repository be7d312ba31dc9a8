"""``windmaker refresh``: compute and store every metric table, with a progress bar per stage."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.config import ConfigError
from windmaker.services.configs import Configs
from windmaker.services.refresh import STAGES
from windmaker.services.refresh import refresh as run_refresh
from windmaker.workspace import open_warehouse

_LABELS = {
    "inspect": "检查新数据 inspect sources",
    "facts": "订单事实 order facts",
    "day": "日指标 daily metrics",
    "week": "周指标 weekly metrics",
    "month": "月指标 monthly metrics",
    "cohorts": "复购同期群 cohorts",
    "drivers": "GMV 驱动树 GMV drivers",
    "category": "类目基准与能力分 category benchmarks",
}


def refresh(
    workspace: WorkspaceOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute everything instead of only what changed")
    ] = False,
) -> None:
    """Compute and store the STEPS metric tables (计算并存储指标表); incremental by default."""
    settings = settings_or_exit(workspace)
    try:
        configs = Configs.of(settings).check(("metrics",))
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    with (
        open_warehouse(settings) as wh,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
        ) as bar,
    ):
        task = bar.add_task(_LABELS["inspect"], total=len(STAGES))

        def on_stage(stage: str) -> None:
            done = STAGES.index(stage)
            bar.update(task, completed=done, description=_LABELS.get(stage, stage))

        report = run_refresh(
            wh,
            configs,
            full=full,
            progress=on_stage,
            exclude_brushing=settings.exclude_brushing_from_gmv,
        )
        bar.update(task, completed=len(STAGES), description="完成 done")
    console.print(
        f"refresh: [bold]{report.mode}[/bold]"
        + (f" from {report.since}" if report.since else "")
        + (f" ({report.reason})" if report.reason else "")
    )
    if report.rows:
        table = Table(title="metric tables 指标表")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, n in report.rows.items():
            table.add_row(name, f"{n:,}")
        console.print(table)
