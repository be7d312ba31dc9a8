"""Entry point of the ``windmaker`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.workspace import init_workspace, open_warehouse

app = typer.Typer(
    name="windmaker",
    help="Brand-growth operating system for live-stream commerce (STEPS, growth ladder, providers).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Folder to make a workspace")],
    warehouse: Annotated[
        str | None, typer.Option(help="Warehouse URL (default: a DuckDB file)")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rewrite an existing windmaker.toml")] = False,
) -> None:
    """Create a workspace: windmaker.toml, the warehouse and the quarantine folder."""
    try:
        settings = init_workspace(folder, warehouse=warehouse, force=force)
    except FileExistsError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(
        f"workspace ready: [bold]{settings.workspace}[/bold] (warehouse {settings.warehouse_url})"
    )


@app.command()
def status(
    workspace: WorkspaceOpt = None,
    internal: Annotated[
        bool,
        typer.Option("--all", help="Also the tables the steps keep for their next run."),
    ] = False,
) -> None:
    """Tables of the warehouse with their row counts and date ranges."""
    settings = settings_or_exit(workspace)
    with open_warehouse(settings) as wh:
        rows = wh.status(internal=internal)
    table = Table(title=f"warehouse {settings.warehouse_url}")
    for col in ("table", "rows", "first", "last"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for r in rows:
        table.add_row(r.name, f"{r.rows:,}", str(r.first or ""), str(r.last or ""))
    console.print(table)


# Sub-commands of each layer register here, one line each.
from windmaker.cli import cases as cases_cli  # noqa: E402
from windmaker.cli import providers as providers_cli  # noqa: E402
from windmaker.cli.diagnose import diagnose, portfolio  # noqa: E402
from windmaker.cli.distribution import register as register_distribution  # noqa: E402
from windmaker.cli.factories import app as factories_app  # noqa: E402
from windmaker.cli.ingest import ingest  # noqa: E402
from windmaker.cli.models import app as models_app  # noqa: E402
from windmaker.cli.plan import app as plan_app  # noqa: E402
from windmaker.cli.refresh import refresh  # noqa: E402
from windmaker.cli.report import report  # noqa: E402
from windmaker.cli.run import run  # noqa: E402
from windmaker.cli.serve import serve, users_app  # noqa: E402
from windmaker.cli.simulate import simulate  # noqa: E402
from windmaker.cli.trust import app as trust_app  # noqa: E402
from windmaker.cli.watch import watch  # noqa: E402

app.command()(ingest)
app.command()(refresh)
app.command()(diagnose)
app.command()(portfolio)
app.command()(report)
app.command()(run)
app.command()(serve)
app.command()(simulate)
app.command()(watch)
app.add_typer(users_app, name="users")
app.add_typer(providers_cli.app, name="providers")
app.add_typer(providers_cli.store_app, name="store")
app.add_typer(trust_app, name="trust")
app.add_typer(factories_app, name="factories")
app.add_typer(models_app, name="models")
app.add_typer(cases_cli.app, name="cases")
app.add_typer(plan_app, name="plan")
register_distribution(app)


if __name__ == "__main__":  # pragma: no cover
    app()
