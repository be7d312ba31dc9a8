"""``windmaker providers``: admission, evaluation, exit, tiers and matching of service providers;
``windmaker store``: the operational store's schema.

Each command parses its options, calls the provider workflow
(:mod:`windmaker.services.providers`) and prints the records it returns. ``apply`` files as the
applying provider; the other commands act as the workspace's admin. The audit log records them
under ``--actor`` or ``--reviewer``.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import typer
import yaml
from rich.markup import escape
from rich.table import Table

from windmaker import store
from windmaker.cli.common import (
    WorkspaceOpt,
    console,
    err_console,
    refusal_text,
    refused,
    settings_or_exit,
    store_engine,
)
from windmaker.config import ConfigError, Settings
from windmaker.ecosystem.admission import ProviderApplication
from windmaker.ecosystem.evaluation import month_start
from windmaker.i18n import reason_text
from windmaker.services import providers
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import applicant, workspace_admin
from windmaker.workspace import open_warehouse

app = typer.Typer(help="Service providers (服务商): admission, evaluation, exit, tiers, matching.")
store_app = typer.Typer(help="The operational store (providers, users, audit log).")

ReviewerOpt = Annotated[
    str, typer.Option("--reviewer", help="Who decides (recorded in the audit log)")
]
NoteOpt = Annotated[str, typer.Option("--note", help="Why (recorded in the audit log)")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who runs this (recorded in the audit log)")]
LangOpt = Annotated[
    Literal["zh-CN", "en"] | None,
    typer.Option("--lang", help="zh-CN or en (default: the workspace language)"),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _configs(settings: Settings) -> Configs:
    try:
        return Configs.of(settings).check(["ecosystem"])
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _period(value: str) -> date:
    try:
        return month_start(value)
    except ValueError:
        raise _fail(f"--period must be YYYY-MM, not {value!r}") from None


@store_app.command("upgrade")
def store_upgrade(workspace: WorkspaceOpt = None) -> None:
    """Create or upgrade the store's tables to the newest schema (数据库升级)."""
    settings = settings_or_exit(workspace)
    engine = store.engine_for(settings)
    before = store.current_revision(engine)
    after = store.upgrade(engine)
    console.print(
        f"store {engine.url.render_as_string(hide_password=True)}: {before or 'empty'} → {after}"
    )


def _read_applications(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    if isinstance(data, dict) and "applications" in data:
        data = data["applications"]
    return data if isinstance(data, list) else [data]


@app.command()
def apply(
    file: Annotated[Path, typer.Argument(help="YAML or JSON: one application or a list")],
    actor: ActorOpt = "applicant",
    workspace: WorkspaceOpt = None,
) -> None:
    """Submit admission applications (准入申请); each is scored and queued for review.

    Each is filed by its provider, under ``--actor``: a provider already admitted (on
    probation, warned or exited) does not re-apply.
    """
    settings = settings_or_exit(workspace)
    configs = _configs(settings)
    try:
        apps = [ProviderApplication.from_dict(d) for d in _read_applications(file)]
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        raise _fail(f"{file}: {exc}") from None
    table = Table(title="applications / 准入申请")
    for col in ("application", "provider", "kind", "proposal / 建议", "criteria below standard"):
        table.add_column(col)
    any_refused = False
    with store.open_session(store_engine(settings)) as session:
        for a in apps:
            try:
                filed = providers.apply(session, configs, applicant(a.provider_id, actor), a)
            except ServiceError as exc:
                text = escape(refusal_text(exc, settings.language))
                err_console.print(f"[yellow]{a.provider_id}:[/yellow] {text}")
                any_refused = True
                continue
            table.add_row(
                str(filed.application.id),
                a.provider_id,
                a.kind,
                filed.proposal.proposed_outcome,
                ", ".join(filed.below_standard) or "-",
            )
    console.print(table)
    if any_refused:
        # each refusal is printed on its provider's line above; exit 3 like every refusal
        raise typer.Exit(3)


@app.command()
def queue(lang: LangOpt = None, workspace: WorkspaceOpt = None) -> None:
    """The review queue: pending applications with the system's proposal and its reasons."""
    settings = settings_or_exit(workspace)
    language = lang or settings.language
    with store.open_session(store_engine(settings)) as session:
        pending = providers.applications(session, workspace_admin("cli"))
    table = Table(title=f"review queue / 待审核 ({len(pending)})")
    for col in ("application", "provider", "submitted", "proposal / 建议", "reasons / 理由"):
        table.add_column(col)
    for r in pending:
        reasons = "\n".join(providers.reason_line(x, language) for x in r.proposal.reasons)
        table.add_row(
            str(r.application.id),
            r.application.provider_id,
            str(r.application.submitted_at),
            r.proposal.proposed_outcome,
            reasons,
        )
    console.print(table)


@app.command()
def decide(
    application_id: Annotated[int, typer.Argument(help="Application id (see `providers queue`)")],
    decision: Annotated[str, typer.Option("--decision", help="admitted, probation or rejected")],
    reviewer: ReviewerOpt,
    note: NoteOpt = "",
    workspace: WorkspaceOpt = None,
) -> None:
    """Decide an application (准入决定); recorded with the reviewer and note."""
    settings = settings_or_exit(workspace)
    with store.open_session(store_engine(settings)) as session:
        try:
            d = providers.decide(
                session, workspace_admin(reviewer), application_id, decision=decision, note=note
            )
        except ServiceError as exc:
            raise refused(exc, settings) from None
    console.print(
        f"application {application_id}: [bold]{d.outcome}[/bold] ({d.status}, system proposed "
        f"{d.proposed_outcome}) by {d.reviewer}"
    )


@app.command()
def decisions(
    status: Annotated[
        str | None, typer.Option(help="proposed, confirmed or overridden")
    ] = "proposed",
    lang: LangOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Decisions about providers (warnings, exits, admissions), newest first."""
    settings = settings_or_exit(workspace)
    language = lang or settings.language
    with store.open_session(store_engine(settings)) as session:
        rows = providers.decisions(session, workspace_admin("cli"), status=status)
    table = Table(title=f"decisions / 决定 ({status or 'all'})")
    for col in ("id", "provider", "kind", "period", "proposed", "status", "outcome", "reasons"):
        table.add_column(col)
    for d in rows:
        table.add_row(
            str(d.id),
            d.provider_id,
            d.kind,
            str(d.period or ""),
            d.proposed_outcome,
            d.status,
            d.outcome or "",
            "; ".join(providers.reason_line(r, language) for r in d.reasons)[:120],
        )
    console.print(table)


@app.command()
def confirm(
    decision_id: Annotated[int, typer.Argument(help="Decision id (see `providers decisions`)")],
    reviewer: ReviewerOpt,
    note: NoteOpt = "",
    outcome: Annotated[
        str | None, typer.Option(help="Override: warned/exited/dismissed (default: as proposed)")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Confirm (or override) a proposed warning or exit (准出确认)."""
    settings = settings_or_exit(workspace)
    with store.open_session(store_engine(settings)) as session:
        try:
            d = providers.confirm_exit(
                session, workspace_admin(reviewer), decision_id, note=note, outcome=outcome
            )
        except ServiceError as exc:
            raise refused(exc, settings) from None
    console.print(f"decision {d.id}: {d.kind} of {d.provider_id} → [bold]{d.outcome}[/bold]")


def _read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)


@app.command()
def evaluate(
    period: Annotated[
        str, typer.Option("--period", help="Month evaluated, YYYY-MM, or 'all': every month")
    ],
    violations: Annotated[
        Path | None,
        typer.Option(
            help="CSV/Parquet of trust violations: brand_id, period, kind (fraud is severe); "
            "default: the trust alerts of `windmaker trust run` (mdl_trust_alerts)"
        ),
    ] = None,
    actor: ActorOpt = "system",
    workspace: WorkspaceOpt = None,
) -> None:
    """Evaluate every provider for a month (服务商考核) and propose warnings and exits."""
    settings = settings_or_exit(workspace)
    configs = _configs(settings)
    viol = _read_table(violations) if violations else None
    if period == "all":
        with (
            console.status("evaluating every month / 逐月考核中"),
            open_warehouse(settings) as wh,
            store.open_session(store_engine(settings)) as session,
        ):
            try:
                runs = providers.evaluate_months(
                    session, wh, configs, workspace_admin(actor), violations=viol
                )
            except ServiceError as exc:
                raise refused(exc, settings) from None
        waiting = {(p.provider_id, p.kind) for r in runs for p in r.proposals}
        console.print(
            f"{len(runs)} months evaluated; {len(waiting)} warning/exit proposals awaiting a "
            "person (`windmaker providers decisions`)"
        )
        return
    month = _period(period)
    with (
        console.status("evaluating / 考核中"),
        open_warehouse(settings) as wh,
        store.open_session(store_engine(settings)) as session,
    ):
        try:
            run = providers.evaluate(
                session, wh, configs, workspace_admin(actor), month, violations=viol
            )
        except ServiceError as exc:
            raise refused(exc, settings) from None
    table = Table(title=f"provider evaluation / 服务商考核 {month:%Y-%m}")
    for col in (
        "provider",
        "clients",
        "GMV served",
        "uplift/month",
        "retention",
        "score",
        "standard",
    ):
        table.add_column(col, justify="right" if col not in ("provider", "standard") else "left")
    for e in sorted(run.evaluations, key=lambda e: -e.score)[:30]:
        up, ret = e.metrics["client_uplift"], e.metrics["client_retention"]
        table.add_row(
            e.provider_id,
            str(e.clients),
            f"{e.gmv_served:,.0f}",
            "-" if up is None else f"{up:+.1%}",
            "-" if ret is None else f"{ret:.0%}",
            f"{e.score:+.2f}",
            "severe" if e.severe_violation else ("ok" if e.meets_standard else "below / 未达标"),
        )
    console.print(table)
    console.print(
        f"{len(run.evaluations)} evaluated; {len(run.proposals)} warning/exit proposals awaiting "
        "a person (`windmaker providers decisions`)"
    )


@app.command()
def tiers(
    period: Annotated[
        str | None, typer.Option("--period", help="YYYY-MM (default: latest evaluated)")
    ] = None,
    top: Annotated[int, typer.Option(help="How many closest to the next tier to show")] = 10,
    workspace: WorkspaceOpt = None,
) -> None:
    """Windmaker-plan tiers (造风者计划): providers per tier against the targets."""
    settings = settings_or_exit(workspace)
    configs = _configs(settings)
    with store.open_session(store_engine(settings)) as session:
        board = providers.tiers(
            session,
            configs,
            workspace_admin("cli"),
            period=_period(period) if period else None,
            per_tier=top,
        )
    table = Table(title=f"windmaker plan / 造风者计划 ({board.source})")
    for col in ("tier", "threshold (yuan)", "in tier", "at or above", "target", "progress"):
        table.add_column(col)
    for c in board.tiers:
        table.add_row(
            f"{c.name_zh} {c.name_en}",
            f"{c.threshold:,.0f}",
            str(c.in_tier),
            str(c.at_or_above),
            str(c.target),
            f"{c.progress:.1%}",
        )
    console.print(table)
    for code, near in board.closest.items():
        t_near = Table(title=f"closest to {code} / 最接近下一档")
        for col in ("provider", "annual GMV served", "gap (yuan)", "progress"):
            t_near.add_column(col)
        for s in near:
            t_near.add_row(
                s.provider_id,
                f"{s.annual_gmv_served:,.0f}",
                f"{s.gap_to_next or 0:,.0f}",
                f"{s.progress_to_next or 0:.1%}",
            )
        console.print(t_near)


@app.command()
def match(
    period: Annotated[
        str | None, typer.Option("--period", help="YYYY-MM (default: latest diagnosed)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write every match with its reasons to this CSV")
    ] = None,
    apply_matches: Annotated[
        bool, typer.Option("--apply", help="Record the matches as assignments (audited)")
    ] = False,
    actor: ActorOpt = "system",
    top: Annotated[int, typer.Option(help="Matches to print")] = 20,
    lang: LangOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Match brands needing help to providers (服务商匹配) over the whole portfolio."""
    settings = settings_or_exit(workspace)
    language = lang or settings.language
    configs = _configs(settings)
    with (
        console.status("matching / 匹配中"),
        open_warehouse(settings) as wh,
        store.open_session(store_engine(settings)) as session,
    ):
        try:
            run = providers.match(
                session,
                wh,
                configs,
                workspace_admin(actor),
                period=_period(period) if period else None,
                record=apply_matches,
            )
        except ServiceError as exc:
            raise refused(exc, settings) from None
    if out is not None:
        run.matches.to_csv(out, index=False)
    table = Table(title=f"matches / 匹配 {run.period:%Y-%m}: {len(run.matches)} brands")
    for col in ("brand", "provider", "bottleneck", "benefit (yuan/month)", "reason / 理由"):
        table.add_column(col)
    for row in run.matches.sort_values("predicted_benefit", ascending=False).head(top).itertuples():
        table.add_row(
            str(row.brand_id),
            str(row.provider_id),
            str(row.bottleneck),
            f"{row.predicted_benefit:,.0f}",
            reason_text(row.reason_code, row.reason_params, language),
        )
    console.print(table)
    console.print(
        f"total predicted benefit {run.total_benefit:,.0f} yuan/month; "
        f"{len(run.unmatched)} brands unmatched"
        + (" — recorded as assignments" if apply_matches else "")
    )


@app.command()
def load(
    folder: Annotated[
        Path, typer.Argument(help="The simulator's ecosystem folder (or its output folder)")
    ],
    actor: ActorOpt = "import",
    workspace: WorkspaceOpt = None,
) -> None:
    """Import providers and assignments (providers.parquet, assignments.parquet) as admitted providers."""
    settings = settings_or_exit(workspace)
    try:
        frames = providers.read_ecosystem_folder(folder)
    except ServiceError as exc:
        raise _fail(str(exc.detail[0]["msg"])) from None
    with (
        console.status("providers / 服务商"),
        store.open_session(store_engine(settings)) as session,
    ):
        loaded = providers.load(session, workspace_admin(actor), *frames)
    console.print(
        f"{loaded.providers} providers, {loaded.new_assignments} new assignments loaded from "
        f"{folder}"
    )
