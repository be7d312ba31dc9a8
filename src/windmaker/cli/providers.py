"""``windmaker providers``: admission, evaluation, exit, tiers and matching of service providers;
``windmaker store``: the operational store's schema."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
import yaml
from rich.progress import track
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from windmaker import store
from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.config import ConfigError, Settings
from windmaker.ecosystem.admission import ProviderApplication, score_application
from windmaker.ecosystem.config import EcosystemConfig, load_config
from windmaker.ecosystem.evaluation import evaluate_providers, month_start
from windmaker.ecosystem.exit import PeriodVerdict, propose_exits
from windmaker.ecosystem.matching import match_brands
from windmaker.ecosystem.tiers import closest_to_next_tier, tier_counts, tier_standings
from windmaker.store.evaluations import annual_gmv_served
from windmaker.workspace import open_warehouse

app = typer.Typer(help="Service providers (服务商): admission, evaluation, exit, tiers, matching.")
store_app = typer.Typer(help="The operational store (providers, users, audit log).")

ReviewerOpt = Annotated[
    str, typer.Option("--reviewer", help="Who decides (recorded in the audit log)")
]
NoteOpt = Annotated[str, typer.Option("--note", help="Why (recorded in the audit log)")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who runs this (recorded in the audit log)")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _engine(settings: Settings) -> Engine:
    """The store's engine, migrated: SQLite is brought to the newest schema automatically;
    other databases must be upgraded explicitly (``windmaker store upgrade``)."""
    engine = store.engine_for(settings)
    current = store.current_revision(engine)
    if current != store.head_revision():
        if engine.dialect.name == "sqlite":
            store.upgrade(engine)
        else:
            raise _fail(
                f"the store is at revision {current}, not {store.head_revision()}: "
                "run `windmaker store upgrade`"
            )
    return engine


def _config(settings: Settings) -> EcosystemConfig:
    try:
        return load_config(settings.config_path)
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
    """Submit admission applications (准入申请); each is scored and queued for review."""
    settings = settings_or_exit(workspace)
    cfg = _config(settings)
    try:
        apps = [ProviderApplication.from_dict(d) for d in _read_applications(file)]
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        raise _fail(f"{file}: {exc}") from None
    table = Table(title="applications / 准入申请")
    for col in ("application", "provider", "kind", "proposal / 建议", "criteria below standard"):
        table.add_column(col)
    with store.open_session(_engine(settings)) as session:
        for a in apps:
            result = score_application(a, cfg.admission)
            store.upsert_provider(
                session,
                provider_id=a.provider_id,
                name=a.name,
                kind=a.kind,
                capabilities=a.capabilities,
                categories=a.categories,
                capacity=a.capacity,
                team_size=a.team_size,
                gmv_served_12m=a.gmv_served_12m,
                founded_at=a.founded_at,
                actor=actor,
                reason="admission application",
                commit=False,
            )
            row = store.submit_application(
                session,
                provider_id=a.provider_id,
                qualifications=a.to_dict(),
                proposed_outcome=result.outcome,
                reasons=result.reasons,
                actor=actor,
            )
            weak = [c.criterion for c in result.criteria if c.outcome != "admitted"]
            table.add_row(
                str(row.id), a.provider_id, a.kind, result.outcome, ", ".join(weak) or "-"
            )
    console.print(table)


@app.command()
def queue(workspace: WorkspaceOpt = None) -> None:
    """The review queue: pending applications with the system's proposal and its reasons."""
    settings = settings_or_exit(workspace)
    with store.open_session(_engine(settings)) as session:
        pending = store.review_queue(session)
        table = Table(title=f"review queue / 待审核 ({len(pending)})")
        for col in ("application", "provider", "submitted", "proposal / 建议", "reasons / 理由"):
            table.add_column(col)
        for a, d in pending:
            reasons = "\n".join(r.get("message", "") for r in d.reasons)
            table.add_row(
                str(a.id), a.provider_id, str(a.submitted_at), d.proposed_outcome, reasons
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
    with store.open_session(_engine(settings)) as session:
        try:
            d = store.decide_application(
                session,
                application_id=application_id,
                decision=decision,
                reviewer=reviewer,
                note=note,
            )
        except (store.AlreadyDecidedError, store.NotFoundError, store.InvalidValueError) as exc:
            raise _fail(str(exc), 3) from None
        console.print(
            f"application {application_id}: [bold]{d.outcome}[/bold] ({d.status}, system proposed "
            f"{d.proposed_outcome}) by {d.reviewer}"
        )


@app.command()
def decisions(
    status: Annotated[
        str | None, typer.Option(help="proposed, confirmed or overridden")
    ] = "proposed",
    workspace: WorkspaceOpt = None,
) -> None:
    """Decisions about providers (warnings, exits, admissions), newest first."""
    settings = settings_or_exit(workspace)
    with store.open_session(_engine(settings)) as session:
        rows = store.list_decisions(session, status=status)
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
                "; ".join(r.get("message", "") for r in d.reasons)[:120],
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
    with store.open_session(_engine(settings)) as session:
        try:
            d = store.confirm_decision(
                session, decision_id=decision_id, reviewer=reviewer, note=note, outcome=outcome
            )
        except (store.AlreadyDecidedError, store.NotFoundError, store.InvalidValueError) as exc:
            raise _fail(str(exc), 3) from None
        console.print(f"decision {d.id}: {d.kind} of {d.provider_id} → [bold]{d.outcome}[/bold]")


def _assignments_frame(session: Session) -> pd.DataFrame:
    rows = [
        (a.provider_id, a.brand_id, a.started_at, a.ended_at)
        for a in store.list_assignments(session)
    ]
    return pd.DataFrame(rows, columns=["provider_id", "brand_id", "started_at", "ended_at"])


def _action_frame(session: Session) -> pd.DataFrame:
    rows = [
        (i.brand_id, i.provider_id, i.status, i.due_date)
        for i in store.list_action_items(session)
        if i.due_date is not None
    ]
    return pd.DataFrame(rows, columns=["brand_id", "provider_id", "status", "due_date"])


def _warehouse_frames(
    settings: Settings,
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]:
    """(m_brand_month net GMV, g_stage, g_bottleneck rank 1, m_capability) from the warehouse."""

    def optional(wh: Any, name: str, *cols: str) -> pd.DataFrame | None:
        if not wh.has_table(name):
            return None
        t = wh.table(name)
        if name == "g_bottleneck":
            t = t.filter(t["rank"] == 1)
        return wh.execute(t.select(*cols))  # type: ignore[no-any-return]

    with open_warehouse(settings) as wh:
        if not wh.has_table("m_brand_month"):
            raise _fail("the warehouse has no m_brand_month: run `windmaker refresh` first")
        t = wh.table("m_brand_month")
        bm = wh.execute(t.select("brand_id", "category", "period", "net_gmv"))
        stages = optional(wh, "g_stage", "brand_id", "period", "stage")
        bottleneck = optional(wh, "g_bottleneck", "brand_id", "category", "period", "capability")
        capabilities = optional(wh, "m_capability", "brand_id", "period", "capability", "index")
    return bm, stages, bottleneck, capabilities


def _trust_violations(settings: Settings) -> pd.DataFrame | None:
    """Brand-level trust alerts as violations (brand_id, period, kind): a severe alert (brushing
    confirmed by both detectors, fraud) is kind ``fraud``; None when trust has not run."""
    with open_warehouse(settings) as wh:
        if not wh.has_table("mdl_trust_alerts"):
            return None
        t = wh.table("mdl_trust_alerts")
        alerts = wh.execute(
            t.filter(t.brand_id.notnull()).select("brand_id", "period", "kind", "severe")
        )
    kind = alerts["kind"].where(~alerts["severe"].fillna(False).astype(bool), "fraud")
    return alerts.assign(kind=kind)[["brand_id", "period", "kind"]]


def _read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)


@app.command()
def evaluate(
    period: Annotated[str, typer.Option("--period", help="Month evaluated, YYYY-MM")],
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
    cfg = _config(settings)
    month = _period(period)
    bm, stages, _, capabilities = _warehouse_frames(settings)
    viol = _read_table(violations) if violations else _trust_violations(settings)
    with store.open_session(_engine(settings)) as session:
        providers = store.list_providers(session)
        result = evaluate_providers(
            brand_month=bm,
            assignments=_assignments_frame(session),
            period=month,
            config=cfg.evaluation,
            stages=stages,
            violations=viol,
            action_items=_action_frame(session),
            capabilities=capabilities,
            provider_capabilities={p.provider_id: list(p.capabilities) for p in providers},
            provider_ids=[
                p.provider_id for p in providers if p.status in ("admitted", "probation", "warned")
            ],
        )
        known = {p.provider_id for p in providers}
        for e in track(result.providers, description="recording / 记录考核", console=console):
            if e.provider_id not in known:
                continue
            store.record_evaluation(
                session,
                provider_id=e.provider_id,
                period=e.period,
                metrics=e.metrics_json(),
                gmv_served=e.gmv_served,
                score=e.score,
                meets_standard=e.meets_standard,
                severe_violation=e.severe_violation,
                reasons=list(e.reasons),
                actor=actor,
                commit=False,
            )
        session.commit()
        history = [
            PeriodVerdict(v.provider_id, v.period, v.meets_standard, v.severe_violation)
            for v in store.list_evaluations(session)
            if v.period <= month
        ]
        statuses = {p.provider_id: p.status for p in providers}
        proposals = propose_exits(history, statuses, cfg.exit)
        for prop in proposals:
            store.propose_decision(
                session,
                provider_id=prop.provider_id,
                kind=prop.kind,
                proposed_outcome=prop.proposed_outcome,
                reasons=list(prop.reasons),
                period=prop.period,
                actor=actor,
            )
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
    for e in sorted(result.providers, key=lambda e: -e.score)[:30]:
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
        f"{len(result.providers)} evaluated; {len(proposals)} warning/exit proposals awaiting a "
        "person (`windmaker providers decisions`)"
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
    cfg = _config(settings)
    with store.open_session(_engine(settings)) as session:
        gmv, source = annual_gmv_served(session, period=_period(period) if period else None)
    standings = tier_standings(gmv, cfg.tiers)
    table = Table(title=f"windmaker plan / 造风者计划 ({source})")
    for col in ("tier", "threshold (yuan)", "in tier", "at or above", "target", "progress"):
        table.add_column(col)
    for c in tier_counts(standings, cfg.tiers):
        table.add_row(
            f"{c.name_zh} {c.name_en}",
            f"{c.threshold:,.0f}",
            str(c.in_tier),
            str(c.at_or_above),
            str(c.target),
            f"{c.progress:.1%}",
        )
    console.print(table)
    for code, near in closest_to_next_tier(standings, per_tier=top).items():
        t = Table(title=f"closest to {code} / 最接近下一档")
        for col in ("provider", "annual GMV served", "gap (yuan)", "progress"):
            t.add_column(col)
        for s in near:
            t.add_row(
                s.provider_id,
                f"{s.annual_gmv_served:,.0f}",
                f"{s.gap_to_next or 0:,.0f}",
                f"{s.progress_to_next or 0:.1%}",
            )
        console.print(t)


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
    workspace: WorkspaceOpt = None,
) -> None:
    """Match brands needing help to providers (服务商匹配) over the whole portfolio."""
    settings = settings_or_exit(workspace)
    cfg = _config(settings)
    bm, stages, bottleneck, _ = _warehouse_frames(settings)
    if bottleneck is None or bottleneck.empty:
        raise _fail("the warehouse has no g_bottleneck: run `windmaker diagnose` first")
    bottleneck["period"] = pd.to_datetime(bottleneck["period"])
    month = pd.Timestamp(_period(period)) if period else bottleneck["period"].max()
    needs = bottleneck[bottleneck["period"] == month].rename(columns={"capability": "bottleneck"})
    bm["period"] = pd.to_datetime(bm["period"])
    gmv = bm[bm["period"] == month].set_index("brand_id")["net_gmv"].astype(float)
    needs = needs.assign(monthly_gmv=needs["brand_id"].map(gmv).fillna(0.0))
    with store.open_session(_engine(settings)) as session:
        providers = store.list_providers(session, statuses=("admitted", "probation"))
        pframe = pd.DataFrame(
            [(p.provider_id, p.capabilities, p.categories, p.capacity) for p in providers],
            columns=["provider_id", "capabilities", "categories", "capacity"],
        )
        assignments = _assignments_frame(session)
        today = month + pd.offsets.MonthEnd(0)
        active = assignments[
            pd.to_datetime(assignments["ended_at"]).isna()
            | (pd.to_datetime(assignments["ended_at"]) >= today)
        ]
        exclusions = pd.DataFrame(
            [(x.brand_id, x.provider_id) for x in store.list_exclusions(session)],
            columns=["brand_id", "provider_id"],
        )
        effects = evaluate_providers(
            brand_month=bm,
            assignments=assignments,
            period=month.date(),
            config=cfg.evaluation,
            stages=stages,
        ).client_effects
        result = match_brands(
            needs[["brand_id", "category", "bottleneck", "monthly_gmv"]].reset_index(drop=True),
            pframe,
            cfg.matching,
            track_record=effects,
            existing=active[["provider_id", "brand_id"]],
            exclusions=exclusions,
        )
        if apply_matches:
            for row in result.matches.itertuples():
                store.add_assignment(
                    session,
                    provider_id=str(row.provider_id),
                    brand_id=str(row.brand_id),
                    started_at=date.today(),
                    source="match",
                    actor=actor,
                    reason=str(row.reason_en),
                    commit=False,
                )
            session.commit()
    if out is not None:
        result.matches.to_csv(out, index=False)
    table = Table(title=f"matches / 匹配 {month:%Y-%m}: {len(result.matches)} brands")
    for col in ("brand", "provider", "bottleneck", "benefit (yuan/month)", "reason / 理由"):
        table.add_column(col)
    for row in (
        result.matches.sort_values("predicted_benefit", ascending=False).head(top).itertuples()
    ):
        table.add_row(
            str(row.brand_id),
            str(row.provider_id),
            str(row.bottleneck),
            f"{row.predicted_benefit:,.0f}",
            str(row.reason_zh if settings.language == "zh-CN" else row.reason_en),
        )
    console.print(table)
    console.print(
        f"total predicted benefit {result.total_benefit:,.0f} yuan/month; "
        f"{len(result.unmatched)} brands unmatched"
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
    if (folder / "ecosystem").is_dir():
        folder = folder / "ecosystem"
    try:
        providers = pd.read_parquet(folder / "providers.parquet")
        assignments = pd.read_parquet(folder / "assignments.parquet")
    except OSError as exc:
        raise _fail(f"{folder}: {exc}") from None
    with store.open_session(_engine(settings)) as session:
        for p in track(
            providers.itertuples(),
            total=len(providers),
            description="providers / 服务商",
            console=console,
        ):
            founded = p.founded_at
            store.upsert_provider(
                session,
                provider_id=str(p.provider_id),
                name=str(p.name),
                kind=str(p.kind),
                capabilities=[c for c in str(p.capabilities).split(",") if c],
                categories=[c for c in str(p.categories).split(",") if c],
                capacity=int(p.capacity),
                team_size=int(p.team_size),
                gmv_served_12m=Decimal(str(p.gmv_served_12m)),
                founded_at=pd.Timestamp(founded).date() if pd.notna(founded) else None,
                status=None if _exists(session, str(p.provider_id)) else "admitted",
                actor=actor,
                reason="imported",
                commit=False,
            )
        session.commit()
        seen = {(a.provider_id, a.brand_id, a.started_at) for a in store.list_assignments(session)}
        added = 0
        for a in track(
            assignments.itertuples(),
            total=len(assignments),
            description="assignments / 服务关系",
            console=console,
        ):
            started = pd.Timestamp(a.started_at).date()
            key = (str(a.provider_id), str(a.brand_id), started)
            if key in seen:
                continue
            ended = pd.Timestamp(a.ended_at).date() if pd.notna(a.ended_at) else None
            store.add_assignment(
                session,
                provider_id=key[0],
                brand_id=key[1],
                started_at=started,
                ended_at=ended,
                source="import",
                actor=actor,
                reason="imported",
                commit=False,
            )
            seen.add(key)
            added += 1
        session.commit()
    console.print(f"{len(providers)} providers, {added} new assignments loaded from {folder}")


def _exists(session: Session, provider_id: str) -> bool:
    try:
        store.get_provider(session, provider_id=provider_id)
    except store.NotFoundError:
        return False
    return True
