"""``windmaker serve`` and ``windmaker users``: the web server and who may log in to it.

The ``users`` commands parse their options, call the users use cases
(:mod:`windmaker.services.users`) as the workspace's admin and print the records they return.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from windmaker.cli.common import WorkspaceOpt, console, err_console, refused, settings_or_exit
from windmaker.config import Settings
from windmaker.config.settings import DEFAULT_SECRET_KEY
from windmaker.services import users
from windmaker.services.errors import ServiceError
from windmaker.services.identity import workspace_admin
from windmaker.store import engine_for, get_user_by_name, open_session, upgrade, verify_password
from windmaker.workspace import open_warehouse

users_app = typer.Typer(help="Users of the API and the dashboard.", no_args_is_help=True)


#: The usernames ``windmaker users demo`` creates.
DEMO_USERNAMES = ("admin", "operator", "provider", "brand")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def live_demo_users(settings: Settings) -> list[str]:
    """Active demo users whose password is still the shipped demo password (anyone can log in
    as them)."""
    engine = engine_for(settings)
    upgrade(engine)
    try:
        with open_session(engine) as session:
            found = []
            for username in DEMO_USERNAMES:
                user = get_user_by_name(session, username=username)
                if (
                    user is not None
                    and user.active
                    and verify_password(user=user, password=users.DEMO_PASSWORD)
                ):
                    found.append(username)
            return found
    finally:
        engine.dispose()


def serve(
    workspace: WorkspaceOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
    allow_demo_users_on_network: Annotated[
        bool,
        typer.Option(
            "--allow-demo-users-on-network",
            help="Serve a network address although demo users still have the demo password",
        ),
    ] = False,
    fit_models: Annotated[
        bool,
        typer.Option(
            "--fit-models",
            help="Fit lifetime value and traffic curves as a background job once serving",
        ),
    ] = False,
    watch: Annotated[
        Path | None,
        typer.Option(
            "--watch",
            help="Inbox folder: files dropped here are ingested and diagnosed while serving "
            "(see `windmaker watch`)",
        ),
    ] = None,
) -> None:
    """Serve the JSON API (/api/v1, OpenAPI at /api/v1/docs) and the web dashboard.

    On an address other than loopback it refuses to start while the CSRF secret is the shipped
    default, or while a demo user still logs in with the demo password (unless told to).
    """
    import uvicorn

    from windmaker.api.app import create_app

    settings = settings_or_exit(workspace)
    bind_host, bind_port = host or settings.host, port or settings.port
    if not is_loopback(bind_host):
        if settings.secret_key == DEFAULT_SECRET_KEY:
            err_console.print(
                f"[red]error:[/red] refusing to serve {bind_host}: secret_key is the shipped "
                "default; set secret_key in windmaker.toml or WINDMAKER_SECRET_KEY"
            )
            raise typer.Exit(2)
        demo = live_demo_users(settings)
        if demo and not allow_demo_users_on_network:
            err_console.print(
                f"[red]error:[/red] refusing to serve {bind_host}: demo users "
                f"({', '.join(demo)}) still have the demo password; deactivate them "
                "(`windmaker users deactivate NAME`), serve 127.0.0.1, or pass "
                "--allow-demo-users-on-network"
            )
            raise typer.Exit(2)
    if watch is not None and not watch.is_dir():
        err_console.print(f"[red]error:[/red] --watch {watch} is not a folder")
        raise typer.Exit(2)
    app = create_app(settings, fit_models=fit_models, watch=watch)
    console.print(f"windmaker on http://{bind_host}:{bind_port}  (API docs: /api/v1/docs)")
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning")


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[str, typer.Option(help="admin, operator, provider or brand")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    provider: Annotated[str | None, typer.Option(help="Provider id (provider users)")] = None,
    brand: Annotated[str | None, typer.Option(help="Brand id (brand users)")] = None,
    portfolio: Annotated[
        str | None, typer.Option(help="Comma-separated brand ids (operators)")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a user who can log in to the API and the dashboard."""
    settings = settings_or_exit(workspace)
    engine = engine_for(settings)
    upgrade(engine)
    try:
        with open_session(engine) as session:
            user = users.create(
                session,
                workspace_admin("cli"),
                username=username,
                password=password,
                role=role,
                provider_id=provider,
                brand_id=brand,
                portfolio=[b.strip() for b in (portfolio or "").split(",")],
            )
    except ServiceError as exc:
        raise refused(exc, settings, exit_code=2) from None
    console.print(f"user [bold]{user.username}[/bold] ({user.role}) created")


@users_app.command("list")
def users_list(workspace: WorkspaceOpt = None) -> None:
    """Users and their roles."""
    settings = settings_or_exit(workspace)
    engine = engine_for(settings)
    upgrade(engine)
    table = Table("username", "role", "provider", "brand")
    with open_session(engine) as session:
        for u in users.list_users(session, workspace_admin("cli")):
            table.add_row(u.username, u.role, u.provider_id or "", u.brand_id or "")
    console.print(table)


@users_app.command("deactivate")
def users_deactivate(username: str, workspace: WorkspaceOpt = None) -> None:
    """Deactivate a user: every token and web session of theirs stops working at once."""
    settings = settings_or_exit(workspace)
    engine = engine_for(settings)
    upgrade(engine)
    try:
        with open_session(engine) as session:
            users.set_active(session, workspace_admin("cli"), username=username, active=False)
    except ServiceError as exc:
        raise refused(exc, settings, exit_code=2) from None
    console.print(f"user [bold]{username}[/bold] deactivated; their tokens are revoked")


@users_app.command("demo")
def users_demo(
    workspace: WorkspaceOpt = None,
    password: Annotated[
        str, typer.Option(help="Password of every demo user")
    ] = users.DEMO_PASSWORD,
    portfolio_size: Annotated[
        int, typer.Option(help="Brands in the demo operator's portfolio")
    ] = 200,
) -> None:
    """Create one user per role on a diagnosed market (admin, operator, provider, brand) and print how to log in."""
    settings = settings_or_exit(workspace)
    engine = engine_for(settings)
    upgrade(engine)
    try:
        with open_warehouse(settings) as wh, open_session(engine) as session:
            made = users.create_demo_users(
                session,
                wh,
                workspace_admin("demo"),
                password=password,
                portfolio_size=portfolio_size,
            )
    except ServiceError as exc:
        raise refused(exc, settings, exit_code=2) from None
    table = Table(
        "username",
        "password",
        "role",
        "sees",
        title=f"demo users / 演示账号 ({settings.workspace})",
    )
    for person in made:
        if person.refused:
            err_console.print(f"[yellow]{person.username}:[/yellow] {person.refused}")
        sees = {
            "admin": "every brand",
            "operator": f"{len(person.portfolio)} brands",
            "provider": f"{person.provider_id}'s clients",
            "brand": str(person.brand_id),
        }[person.role]
        table.add_row(person.username, person.password, person.role, sees)
    console.print(table)
