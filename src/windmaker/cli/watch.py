"""``windmaker watch``: ingest, refresh and diagnose the files dropped into a folder."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.services.watch import PassResult, WatchEvent, watch_once
from windmaker.services.watch import watch as watch_loop


def line(event: WatchEvent) -> str | None:
    """One Rich line per event: a moved file in words, the main job, a pass-level problem."""
    if event.kind == "main_job":
        return "[dim]diagnosing / 诊断中 …[/dim]"
    if event.kind == "error":
        return f"[red]error / 错误:[/red] {escape(event.message or '')}"
    report = event.report
    if event.kind != "moved" or report is None:
        return None
    name = escape(report.file)
    if report.outcome == "failed":
        return (
            f"[red]✗ failed / 失败[/red] {name}: {escape(report.reason or '')} → {report.moved_to}"
        )
    parts = [f"[green]✓ done / 完成[/green] {name} → {report.table or '?'}"]
    if report.recovered:
        parts.append("recovered / 已恢复")
    elif report.note:
        parts.append(escape(report.note))
    if report.accepted or report.quarantined:
        parts.append(f"{report.accepted:,} rows accepted / 入库")
        parts.append(
            f"[yellow]{report.quarantined:,} quarantined / 隔离[/yellow]"
            if report.quarantined
            else "0 quarantined / 隔离"
        )
    if report.seconds_to_diagnosed is not None:
        parts.append(f"diagnosed {report.seconds_to_diagnosed:.1f} s after landing / 落地到诊断")
    return ", ".join(parts) + f" → {report.moved_to}"


def _print(event: WatchEvent) -> None:
    text = line(event)
    if text is not None:
        (err_console if event.kind == "error" else console).print(text)


def watch(
    folder: Annotated[
        Path, typer.Argument(help="Inbox folder: files dropped here are ingested and diagnosed")
    ],
    workspace: WorkspaceOpt = None,
    interval: Annotated[float, typer.Option(help="Seconds between polls of the folder")] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="Process the files there now, then exit")
    ] = False,
) -> None:
    """Watch a folder (收件箱): ingest each new file, run the main job, move it to done/ or failed/.

    Each file gets a ``<name>.report.json`` beside it. Ctrl-C stops after the current file.
    With --once the exit code is 1 when any file was refused (or the main job failed).
    """
    settings = settings_or_exit(workspace)
    if interval <= 0:
        err_console.print("[red]error:[/red] --interval must be above 0 seconds")
        raise typer.Exit(2)
    if not folder.is_dir():
        err_console.print(f"[red]error:[/red] {escape(str(folder))} is not a folder")
        raise typer.Exit(2)
    stop = threading.Event()
    results: list[PassResult] = []

    def work() -> None:
        if once:
            results.append(watch_once(settings, folder, on_event=_print, stop=stop))
        else:
            watch_loop(settings, folder, stop, interval=interval, on_event=_print)

    if not once:
        console.print(f"watching / 监听 {escape(str(folder))} every {interval:g} s (Ctrl-C stops)")
    # The loop runs in a thread so that Ctrl-C lands here, between files, not inside a batch.
    worker = threading.Thread(target=work, name="windmaker-watch")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        err_console.print("stopping after the current file / 处理完当前文件后停止 …")
        worker.join()
    if once and results and (results[0].failed or results[0].error):
        raise typer.Exit(1)
