"""``windmaker plan``: the windmaker plan's resources (造风者计划资源分配). Propose an allocation of
the plan's funds and traffic across the providers, list the proposals, confirm or reject one.

Each command acts as the workspace's admin (:func:`~windmaker.services.identity.workspace_admin`),
recorded in the audit log under ``--actor`` / ``--reviewer``, and calls
:mod:`windmaker.services.allocation`, so the numbers are the page's and the API's.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from windmaker import store
from windmaker.cli.common import (
    WorkspaceOpt,
    console,
    err_console,
    refused,
    settings_or_exit,
    store_engine,
)
from windmaker.config import ConfigError
from windmaker.i18n import name, reason_text, t
from windmaker.numbers import Formatter
from windmaker.services import allocation as service
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import workspace_admin

app = typer.Typer(
    help="The windmaker plan's funds and traffic across providers (造风者计划资源分配).",
    no_args_is_help=True,
)

LangOpt = Annotated[
    Literal["zh-CN", "en"] | None,
    typer.Option("--lang", help="zh-CN or en (default: the workspace language)"),
]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who runs this (recorded in the audit log)")]
NoteOpt = Annotated[str, typer.Option("--note", help="Why (recorded in the audit log)")]
LimitOpt = Annotated[int, typer.Option(help="Providers to list (the most funds first)")]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _amount(text: str, option: str) -> float:
    value = service.parse_amount(text)
    if value is None:
        raise _fail(f"{option} must be an amount such as 8000000, 800万 or 0.8亿, not {text!r}")
    return value


def _start(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text + "-01" if len(text) == 7 else text)
    except ValueError:
        raise _fail(f"--start must be YYYY-MM, not {text!r}") from None


def _print(record: service.AllocationRecord, language: str, limit: int) -> None:
    """A proposal as a person reads it: its budget and totals, the providers' shares with
    their reasons, and the year-end tier forecast."""
    fmt = Formatter(language)
    status = name("allocation_status", record.status, language)
    console.print(f"[bold]{t('plan.proposal', language, id=record.id)}[/bold] · {status}")
    if len(record.periods) == 1:
        console.print(t("plan.window_one", language, month=fmt.month(record.periods[0])))
    elif record.periods:
        console.print(
            t(
                "plan.window",
                language,
                first=fmt.month(record.periods[0]),
                last=fmt.month(record.periods[-1]),
                months=fmt.count(len(record.periods)),
            )
        )
    for key, value in (
        ("plan.total_funds", fmt.money(record.funds)),
        ("plan.total_traffic", fmt.count(record.traffic)),
        ("plan.total_uplift", fmt.money(record.expected_uplift)),
        ("plan.providers_funded", fmt.count(record.providers_funded)),
        ("plan.crossings", fmt.count(len(record.crossings))),
    ):
        console.print(f"{t(key, language)}: {value}")
    shares = record.by_provider()
    table = Table(title=t("plan.lines", language))
    for key in ("provider", "status", "funds", "traffic", "uplift", "reason"):
        table.add_column(t(f"plan.{key}", language))
    for s in shares[:limit]:
        table.add_row(
            escape(s.name),
            name("provider_status", s.status, language),
            fmt.money(s.funds),
            fmt.count(s.traffic),
            fmt.money(s.expected_uplift),
            escape(reason_text(s.reason_code, s.reason_params, language)),
        )
    console.print(table)
    if len(shares) > limit:
        console.print(t("plan.lines_more", language, n=fmt.count(len(shares) - limit)))
    end = fmt.month(record.periods[-1]) if record.periods else ""
    forecast = Table(
        title=t("plan.forecast", language),
        caption=t("plan.forecast_intro", language, end=end, interval=fmt.pct(record.interval, 0)),
    )
    for key in ("tier", "threshold", "target", "now", "without", "with"):
        forecast.add_column(t(f"plan.{key}", language))
    for x in record.tiers:
        forecast.add_row(
            name("tier", x.code, language),
            fmt.money(x.threshold),
            fmt.count(x.target),
            fmt.count(x.now),
            *(
                t(
                    "plan.range",
                    language,
                    median=fmt.count(r.median),
                    low=fmt.count(r.low),
                    high=fmt.count(r.high),
                )
                for r in (x.without_plan, x.with_plan)
            ),
        )
    console.print(forecast)
    if record.decided_by:
        console.print(_decided(record, language))


def _decided(record: service.AllocationSummary, language: str) -> str:
    fmt = Formatter(language)
    return t(
        "plan.decided",
        language,
        outcome=name("allocation_status", record.status, language),
        who=record.decided_by or "",
        at=fmt.day(record.decided_at),
    )


@app.command()
def allocate(
    funds: Annotated[str, typer.Option("--funds", help="Funds per month: 8000000, 800万, 0.8亿")],
    traffic: Annotated[str, typer.Option("--traffic", help="Impressions per month: 30亿")],
    periods: Annotated[int, typer.Option("--periods", help="Months the plan runs")] = 12,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First month, YYYY-MM (default: after the last evaluation)"),
    ] = None,
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Confirm the proposal at once (audited)")
    ] = False,
    note: NoteOpt = "",
    actor: ActorOpt = "cli",
    limit: LimitOpt = 30,
    lang: LangOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Propose an allocation of the plan's funds and traffic (分配方案) and print it; with
    --confirm confirm it too."""
    settings = settings_or_exit(workspace)
    language = lang or settings.language
    configs = Configs.of(settings)
    try:
        configs.check(["ecosystem"])
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    user = workspace_admin(actor)
    with store.open_session(store_engine(settings)) as session:
        try:
            record = service.propose_allocation(
                session,
                configs,
                user,
                funds_per_period=_amount(funds, "--funds"),
                traffic_per_period=_amount(traffic, "--traffic"),
                periods=periods,
                start=_start(start),
            )
            if confirm:
                record = service.decide_allocation(
                    session, user, record.id, outcome="confirmed", note=note
                )
        except ServiceError as exc:
            for d in exc.detail or []:
                if d.get("code"):  # a shortfall of the budget, in the reader's words
                    err_console.print(escape(reason_text(d["code"], d.get("params"), language)))
            raise refused(exc, settings) from None
    _print(record, language, limit)


@app.command("list")
def list_allocations(
    status: Annotated[
        str | None, typer.Option("--status", help="proposed, confirmed or rejected")
    ] = None,
    lang: LangOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """The allocations proposed, newest first (历次分配方案)."""
    settings = settings_or_exit(workspace)
    language = lang or settings.language
    fmt = Formatter(language)
    with store.open_session(store_engine(settings)) as session:
        rows = service.list_allocations(session, workspace_admin("cli"), status=status)
    if not rows:
        console.print(t("plan.none", language))
        return
    table = Table(title=t("plan.history", language))
    for key in ("id", "created", "by", "status", "months", "funds", "traffic", "uplift"):
        table.add_column(t(f"plan.{key}", language))
    for r in rows:
        table.add_row(
            str(r.id),
            fmt.day(r.created_at),
            escape(r.created_by),
            name("allocation_status", r.status, language),
            fmt.count(len(r.periods)),
            fmt.money(r.funds),
            fmt.count(r.traffic),
            fmt.money(r.expected_uplift),
        )
    console.print(table)


@app.command()
def show(
    allocation_id: Annotated[int, typer.Argument(help="Allocation id (see `plan list`)")],
    limit: LimitOpt = 30,
    lang: LangOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """One allocation: the providers' shares with their reasons and the tier forecast."""
    settings = settings_or_exit(workspace)
    with store.open_session(store_engine(settings)) as session:
        try:
            record = service.get_allocation(session, workspace_admin("cli"), allocation_id)
        except ServiceError as exc:
            raise refused(exc, settings) from None
    _print(record, lang or settings.language, limit)


@app.command()
def decide(
    allocation_id: Annotated[int, typer.Argument(help="Allocation id (see `plan list`)")],
    answer: Annotated[Literal["confirm", "reject"], typer.Argument(help="confirm or reject")],
    note: NoteOpt = "",
    reviewer: Annotated[
        str, typer.Option("--reviewer", help="Who decides (recorded in the audit log)")
    ] = "cli",
    lang: LangOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Confirm or reject a proposed allocation (确认或驳回); recorded in the audit log."""
    settings = settings_or_exit(workspace)
    outcome = "confirmed" if answer == "confirm" else "rejected"
    with store.open_session(store_engine(settings)) as session:
        try:
            record = service.decide_allocation(
                session, workspace_admin(reviewer), allocation_id, outcome=outcome, note=note
            )
        except ServiceError as exc:
            raise refused(exc, settings) from None
    console.print(_decided(record, lang or settings.language))
