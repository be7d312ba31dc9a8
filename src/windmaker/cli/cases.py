"""``windmaker cases``: the case library (方法论复制): list and search cases, show one, bind a
category's playbook to HTML and PDF, and record a brand's consent to be named.

Each command parses its options, calls :mod:`windmaker.services.cases` on the workspace's
diagnosed results and prints what it returns. The commands act as the workspace's admin; the
library reads the same for everyone (a brand that has not consented is anonymous), and a
consent is recorded in the audit log under ``--actor``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from windmaker import numbers, store
from windmaker.cli.common import (
    WorkspaceOpt,
    console,
    err_console,
    refused,
    settings_or_exit,
    store_engine,
)
from windmaker.config import ConfigError, Settings
from windmaker.growth.cases import CAPABILITIES, CASE_METRICS, PublicCase
from windmaker.i18n import name, t
from windmaker.services import cases as case_service
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import workspace_admin

app = typer.Typer(help="Case library (方法论复制): cases of brands that made a step, playbooks.")

LangOpt = Annotated[
    Literal["zh-CN", "en"] | None,
    typer.Option("--lang", help="zh-CN or en (default: the workspace language)"),
]
CategoryOpt = Annotated[str | None, typer.Option("--category", help="Only this category")]
StepOpt = Annotated[
    str | None,
    typer.Option("--step", help="Only this step: climbing-ka, climbing→ka or its start stage"),
]
CapabilityOpt = Annotated[
    str | None,
    typer.Option("--capability", help="Only cases that moved it most or started with it lacking"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def _configs(settings: Settings) -> Configs:
    configs = Configs.of(settings)
    try:
        configs.check(["ladder", "playbook"])
        case_service.cases_config(configs)
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    return configs


def _source(settings: Settings) -> Any:
    from windmaker.views import ReadModel
    from windmaker.views.cases import case_source
    from windmaker.workspace import open_warehouse

    with open_warehouse(settings) as wh:
        rm = ReadModel.of(wh)
    return case_source(rm)


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def case_json(case: PublicCase) -> dict[str, Any]:
    """A case as JSON-ready data (the API's shape)."""
    data: dict[str, Any] = _jsonable(asdict(case))
    return data


def _brand(case: PublicCase, lang: str) -> str:
    if case.named:
        return f"{case.name or ''} ({case.brand_id})"
    return t("cases.anonymous", lang)


def _band(case: PublicCase, lang: str) -> str:
    from windmaker.reports.playbook import band_text

    return band_text(case, lang)


@app.command("list")
def list_cases(
    category: CategoryOpt = None,
    step: StepOpt = None,
    capability: CapabilityOpt = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Cases of brands that made a step of the ladder, newest first (anonymous unless the brand
    consented)."""
    settings = settings_or_exit(workspace)
    language = lang or settings.language
    configs = _configs(settings)
    source = _source(settings)
    with store.open_session(store_engine(settings)) as session:
        try:
            found = case_service.list_cases(
                session,
                configs,
                workspace_admin("cli"),
                source,
                category=category,
                step=step,
                capability=capability,
                min_category_brands=settings.privacy_min_category_brands,
            )
        except ServiceError as exc:
            raise refused(exc, settings) from None
    if as_json:
        body = {
            "items": [case_json(c) for c in found.items],
            "total": found.total,
            "withheld": found.withheld,
        }
        console.print_json(json.dumps(body, ensure_ascii=False))
        return
    table = Table(title=f"{t('cases.title', language)} ({found.total})")
    for key in ("case", "brand", "step", "size_band", "time", "lever", "bottleneck", "gmv_change"):
        table.add_column(t(f"cases.{key}", language))
    for c in found.items:
        table.add_row(
            c.case_id,
            f"{name('category', c.category, language)} · {_brand(c, language)}",
            f"{name('stage', c.from_stage, language)} → {name('stage', c.to_stage, language)}",
            _band(c, language),
            t("cases.months_at_least" if c.censored else "cases.months", language, n=c.months),
            name("capability", c.lever, language),
            name("capability", c.bottleneck, language),
            numbers.change(c.gmv_change, language),
        )
    console.print(table)
    if found.withheld:
        console.print(t("cases.withheld", language, n=found.withheld))


@app.command()
def show(
    case_id: Annotated[str, typer.Argument(help="Case id (see `windmaker cases list`)")],
    lang: LangOpt = None,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """One case: its step, the month-by-month STEPS scores and metrics, providers and actions."""
    settings = settings_or_exit(workspace)
    language = lang or settings.language
    configs = _configs(settings)
    source = _source(settings)
    with store.open_session(store_engine(settings)) as session:
        try:
            case = case_service.get_case(
                session,
                configs,
                workspace_admin("cli"),
                source,
                case_id,
                min_category_brands=settings.privacy_min_category_brands,
            )
        except ServiceError as exc:
            raise refused(exc, settings) from None
    if as_json:
        console.print_json(json.dumps(case_json(case), ensure_ascii=False))
        return
    console.print(
        f"[bold]{case.case_id}[/bold] · {name('category', case.category, language)} · "
        f"{_brand(case, language)} · {name('stage', case.from_stage, language)} → "
        f"{name('stage', case.to_stage, language)} · {_band(case, language)}"
    )
    table = Table(title=t("cases.series", language))
    table.add_column("")
    for m in case.series:
        table.add_column(numbers.month(m.period, language), justify="right")
    for cap in CAPABILITIES:
        table.add_row(
            name("capability", cap, language),
            *[numbers.decimal(m.scores.get(cap), 0, language) for m in case.series],
        )
    for metric in CASE_METRICS:
        kind = case.kinds.get(metric, "value")
        label = name("metric", metric, language)
        if kind == "relative":
            label += f" ({t('cases.relative', language)})"
            cells = [numbers.change(m.metrics.get(metric), language) for m in case.series]
        else:
            cells = [numbers.metric(metric, m.metrics.get(metric), language) for m in case.series]
        table.add_row(label, *cells)
    console.print(table)
    providers = ", ".join(
        f"{p.name} ({name('provider_kind', p.kind, language)}, "
        f"{t('cases.months', language, n=p.months)})"
        for p in case.providers
    )
    console.print(
        f"{t('cases.providers', language)}: {providers or t('cases.no_provider', language)}"
    )
    titles = {
        a.id: a.title_zh if language == "zh-CN" else a.title_en
        for caps in configs.playbook.stages.values()
        for actions in caps.values()
        for a in actions
    }
    for a in case.actions:
        state = name("action_status", "done" if a.completed else "open", language)
        title = titles.get(a.action_id, a.action_id)
        console.print(f"  {title} · {numbers.month(a.taken, language)} · {state}")


@app.command()
def playbook(
    category: Annotated[str, typer.Argument(help="Category (e.g. beauty)")],
    lang: LangOpt = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also print it to PDF (Chromium)")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: WORKSPACE/reports)")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """A category's playbook (打法手册): the method of each step with its cases, HTML and PDF."""
    from windmaker.reports import service as reports
    from windmaker.reports.playbook import render_playbook

    settings = settings_or_exit(workspace)
    language = lang or settings.language
    configs = _configs(settings)
    source = _source(settings)
    with store.open_session(store_engine(settings)) as session:
        try:
            made = case_service.playbook(
                session,
                configs,
                workspace_admin("cli"),
                source,
                category,
                min_category_brands=settings.privacy_min_category_brands,
            )
        except ServiceError as exc:
            raise refused(exc, settings, exit_code=2) from None
    html = render_playbook(made, language)
    folder = out or settings.path("reports")
    folder.mkdir(parents=True, exist_ok=True)
    stem = reports.safe_stem("playbook", category, language)
    html_path = folder / f"{stem}.html"
    html_path.write_text(html, encoding="utf-8")
    console.print(f"HTML: {html_path} ({t('cases.count', language, n=made.cases)})")
    if pdf:
        pdf_path = folder / f"{stem}.pdf"
        pdf_path.write_bytes(reports.printer_for(settings).print(html))
        console.print(f"PDF:  {pdf_path}")


@app.command()
def consent(
    brand_id: Annotated[str, typer.Argument(help="Brand id")],
    given: Annotated[
        bool, typer.Option("--yes/--no", help="Let its cases name it (--yes) or not (--no)")
    ],
    actor: Annotated[
        str, typer.Option("--actor", help="Who records it (in the audit log)")
    ] = "cli",
    reason: Annotated[str, typer.Option("--reason", help="Why (in the audit log)")] = "",
    workspace: WorkspaceOpt = None,
) -> None:
    """Record whether a brand lets the case library name it (署名授权); audited."""
    settings = settings_or_exit(workspace)
    source = _source(settings)
    with store.open_session(store_engine(settings)) as session:
        try:
            record = case_service.set_consent(
                session, workspace_admin(actor), source, brand_id, given, reason=reason
            )
        except ServiceError as exc:
            raise refused(exc, settings) from None
    key = "cases.consent_given" if record.consented else "cases.consent_withdrawn"
    console.print(t(key, settings.language, brand=record.brand_id))
