"""``windmaker ingest``: validated loading of users' files into the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from windmaker import contract
from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.ingest import EXIT_HARD_ERROR, IngestError, IngestReport
from windmaker.ingest.coercion import MoneyUnit
from windmaker.services.ingest import ingest as ingest_service


def ingest(
    files: Annotated[
        list[Path], typer.Argument(help="CSV (UTF-8/GBK), XLSX, Parquet, JSON lines, 快手小店 JSON")
    ],
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            "-t",
            help="Contract table of every file ("
            + ", ".join(contract.TABLES_BY_NAME)
            + "); detected from the headers when absent",
        ),
    ] = None,
    money_unit: Annotated[
        str | None,
        typer.Option(
            "--money-unit",
            help="yuan or fen: unit of money columns whose header does not say (default: workspace)",
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    workspace: WorkspaceOpt = None,
) -> None:
    """Import files into the warehouse (导入数据): one all-or-nothing batch.

    Rejected rows go to the workspace's quarantine folder with their reasons. Exit code 0: every
    row landed; 3: some rows were quarantined; 2: the batch was refused, nothing written.
    """
    settings = settings_or_exit(workspace)
    if money_unit not in (None, "yuan", "fen"):
        err_console.print(f"[red]error:[/red] --money-unit must be yuan or fen, not {money_unit!r}")
        raise typer.Exit(EXIT_HARD_ERROR)
    unit: MoneyUnit | None = money_unit  # type: ignore[assignment]
    try:
        report = ingest_service(
            settings, files, table=table, money_unit=unit, progress=_bar() if progress else None
        )
    except IngestError as exc:
        err_console.print(f"[red]error / 导入失败:[/red] {exc}")
        err_console.print("nothing was written / 未写入任何数据")
        raise typer.Exit(EXIT_HARD_ERROR) from None
    console.print(summary_table(report))
    for f in report.files:
        if f.quarantine is not None:
            rules = ", ".join(f"{rule} ×{n}" for rule, n in f.reasons)
            console.print(
                f"[yellow]{f.rejected:,} rows quarantined / 隔离[/yellow] from {f.path.name}: "
                f"{rules}\n  → {f.quarantine}"
            )
    raise typer.Exit(report.exit_code)


def _bar() -> Progress:
    """A progress bar on stderr, one task per file (the summary goes to stdout)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def summary_table(report: IngestReport) -> Table:
    """The Rich summary of a batch: one row per file."""
    t = Table(title="ingest / 导入结果")
    for col, justify in (
        ("file / 文件", "left"),
        ("table / 表", "left"),
        ("format", "left"),
        ("rows / 行数", "right"),
        ("accepted / 入库", "right"),
        ("replaced / 更新", "right"),
        ("quarantined / 隔离", "right"),
        ("note", "left"),
    ):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for f in report.files:
        fmt = f.fmt + (f" ({f.encoding})" if f.encoding and f.encoding != "utf-8" else "")
        t.add_row(
            f.path.name,
            f.table or "",
            fmt,
            f"{f.rows:,}",
            f"[green]{f.accepted:,}[/green]",
            f"{f.replaced:,}",
            f"[red]{f.rejected:,}[/red]" if f.rejected else "0",
            f.note or "",
        )
    return t
