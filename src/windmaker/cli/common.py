"""What every command shares: the workspace option, the console, the language, refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import Engine

from windmaker import store
from windmaker.config import ConfigError, Settings, load_settings
from windmaker.i18n import t
from windmaker.services.errors import ServiceError

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


def refusal_text(exc: ServiceError, lang: str) -> str:
    """A use case's refusal as one message in ``lang``: the catalogue's ``error.<code>`` text,
    its reason when the text does not already carry it, and each invalid field on its own line.
    """
    values = {k: str(v) for k, v in exc.values.items()}
    try:
        text = t(f"error.{exc.code}", lang, **values)
    except (KeyError, IndexError):
        # The text names a value this refusal does not carry: show it unfilled, not a crash.
        text = t(f"error.{exc.code}", lang)
    reason = values.get("reason", "")
    if reason and reason not in text:
        text = f"{text}: {reason}"
    for d in exc.detail or []:
        text += f"\n  {'.'.join(map(str, d.get('loc', [])))}: {d.get('msg', '')}"
    return text


def refused(exc: ServiceError, settings: Settings, exit_code: int = 3) -> typer.Exit:
    """Print a use case's refusal in the workspace's language and return the exit to raise.

    Exit 3 by default: 2 stays for input the command itself rejects (a bad option or file).
    """
    # escaped: a reason may hold brackets (a field's ``loc``) that Rich would read as markup
    err_console.print(f"[red]error:[/red] {escape(refusal_text(exc, settings.language))}")
    return typer.Exit(exit_code)


def store_engine(settings: Settings) -> Engine:
    """The store's engine, migrated: SQLite is brought to the newest schema automatically;
    other databases must be upgraded explicitly (``windmaker store upgrade``), exit 2."""
    engine = store.engine_for(settings)
    current = store.current_revision(engine)
    if current != store.head_revision():
        if engine.dialect.name != "sqlite":
            err_console.print(
                f"[red]error:[/red] the store is at revision {current}, not "
                f"{store.head_revision()}: run `windmaker store upgrade`"
            )
            raise typer.Exit(2)
        store.upgrade(engine)
    return engine
