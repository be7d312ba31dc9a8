"""``windmaker serve`` and ``windmaker users``: the web server and who may log in to it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.store import (
    create_user,
    engine_for,
    list_users,
    open_session,
    set_portfolio,
    upgrade,
)
from windmaker.store.errors import StoreError

users_app = typer.Typer(help="Users of the API and the dashboard.", no_args_is_help=True)


def serve(
    workspace: WorkspaceOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
) -> None:
    """Serve the JSON API (/api/v1, OpenAPI at /api/v1/docs) and the web dashboard."""
    import uvicorn

    from windmaker.api.app import create_app

    settings = settings_or_exit(workspace)
    app = create_app(settings)
    bind_host, bind_port = host or settings.host, port or settings.port
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
            user = create_user(
                session,
                username=username,
                password=password,
                role=role,
                actor="cli",
                provider_id=provider,
                brand_id=brand,
            )
            if portfolio:
                set_portfolio(
                    session,
                    username=user.username,
                    brand_ids=[b.strip() for b in portfolio.split(",") if b.strip()],
                    actor="cli",
                )
    except StoreError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"user [bold]{username}[/bold] ({role}) created")


@users_app.command("list")
def users_list(workspace: WorkspaceOpt = None) -> None:
    """Users and their roles."""
    settings = settings_or_exit(workspace)
    engine = engine_for(settings)
    upgrade(engine)
    table = Table("username", "role", "provider", "brand")
    with open_session(engine) as session:
        for u in list_users(session):
            table.add_row(u.username, u.role, u.provider_id or "", u.brand_id or "")
    console.print(table)


DEMO_PASSWORD = "windmaker-demo"


@users_app.command("demo")
def users_demo(
    workspace: WorkspaceOpt = None,
    password: Annotated[str, typer.Option(help="Password of every demo user")] = DEMO_PASSWORD,
    portfolio_size: Annotated[
        int, typer.Option(help="Brands in the demo operator's portfolio")
    ] = 200,
) -> None:
    """Create one user per role on a diagnosed market (admin, operator, provider, brand) and print how to log in."""
    from windmaker.store import list_assignments, list_providers
    from windmaker.workspace import open_warehouse

    settings = settings_or_exit(workspace)
    with open_warehouse(settings) as wh:
        if not wh.has_table("g_portfolio"):
            err_console.print("[red]error:[/red] no diagnosis yet: run `windmaker run` first")
            raise typer.Exit(2)
        ranked = wh.execute(wh.table("g_portfolio").order_by(["period", "priority"]))
    latest = ranked[ranked["period"] == ranked["period"].max()]
    engine = engine_for(settings)
    upgrade(engine)
    with open_session(engine) as session:
        providers = list_providers(session, statuses=["admitted", "probation", "warned"])
        provider = next(
            (p for p in providers if list_assignments(session, provider_id=p.provider_id)), None
        )
        client = (
            list_assignments(session, provider_id=provider.provider_id)[0].brand_id
            if provider
            else None
        )
        brand = client or str(latest["brand_id"].iloc[0])
        portfolio = [str(b) for b in latest["brand_id"].head(portfolio_size)]
        people: list[tuple[str, str, dict[str, str | None]]] = [
            ("admin", "admin", {}),
            ("operator", "operator", {}),
            ("provider", "provider", {"provider_id": provider.provider_id if provider else None}),
            ("brand", "brand", {"brand_id": brand}),
        ]
        table = Table(
            "username",
            "password",
            "role",
            "sees",
            title=f"demo users / 演示账号 ({settings.workspace})",
        )
        for username, role, extra in people:
            if role == "provider" and not extra["provider_id"]:
                continue
            try:
                create_user(
                    session, username=username, password=password, role=role, actor="demo", **extra
                )
            except StoreError as exc:
                err_console.print(f"[yellow]{username}:[/yellow] {exc}")
            sees = {
                "admin": "every brand",
                "operator": f"{len(portfolio)} brands",
                "provider": f"{extra.get('provider_id')}'s clients",
                "brand": str(brand),
            }[role]
            table.add_row(username, password, role, sees)
        set_portfolio(session, username="operator", brand_ids=portfolio, actor="demo")
    console.print(table)
