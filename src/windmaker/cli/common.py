"""What every command shares: the workspace option, the console, the language."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from windmaker.config import ConfigError, Settings, load_settings

console = Console()
err_console = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace", "-w", help="Workspace folder (default: found from the current folder)"
    ),
]


def settings_or_exit(workspace: Path | None) -> Settings:
    """The workspace's settings; a clear message and exit code 2 when there is none."""
    try:
        return load_settings(workspace)
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
