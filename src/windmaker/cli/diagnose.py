"""``windmaker diagnose`` and ``windmaker portfolio``: the growth diagnosis on the command line.

``diagnose --all`` computes stage, bottleneck, plan and portfolio for every brand from the metric
tables (and the fitted lifetime-value and traffic-curve tables when present) and stores
``g_stage``, ``g_bottleneck``, ``g_plan`` and ``g_portfolio`` (and ``g_model_scores``);
``diagnose BRAND`` prints one brand's scorecard, stage, reason, bottleneck ranking and plan
(``--json``: the read model's scorecard and diagnosis, the records the API answers);
``portfolio`` prints the attention ranking an operator works through.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import ibis
import pandas as pd
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.config import ConfigError, Settings
from windmaker.growth import diagnosis as dx
from windmaker.growth.model_feed import (
    G_MODEL_SCORES,
)
from windmaker.i18n import CATALOGUE, explain_bottleneck, reason_text, t
from windmaker.services.configs import Configs
from windmaker.services.diagnose import run_diagnosis
from windmaker.views import ReadModel
from windmaker.views.brand import pick_month
from windmaker.warehouse import Warehouse
from windmaker.workspace import open_warehouse

LangOpt = Annotated[
    Literal["zh-CN", "en"] | None,
    typer.Option("--lang", help="zh-CN or en (default: the workspace language)"),
]


def _w(key: str, lang: str) -> str:
    """A stage, capability or attention flag by its code, else one of the CLI's labels."""
    for prefix in ("stage", "capability", "attention"):
        if f"{prefix}.{key}" in CATALOGUE:
            return t(f"{prefix}.{key}", lang)
    return t(f"cli.{key}", lang)


def _configs(settings: Settings) -> Configs:
    try:
        return Configs.of(settings).check(("metrics", "ladder", "playbook"))
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def diagnose(
    brand: Annotated[str | None, typer.Argument(help="Brand to show (omit with --all)")] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="Month YYYY-MM (default: the latest)")
    ] = None,
    lang: LangOpt = None,
    all_brands: Annotated[
        bool,
        typer.Option("--all", help="Diagnose every brand and store g_stage, g_bottleneck, …"),
    ] = False,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="With --all: the simulator's truth/brand_month.parquet; prints the agreement",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print BRAND's scorecard and diagnosis as JSON (the API's records)",
        ),
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Diagnose brands (品牌诊断): stage, reason, bottleneck ranking and action plan."""
    settings = settings_or_exit(workspace)
    language = lang or settings.language
    if not all_brands and brand is None:
        err_console.print("[red]error:[/red] give a BRAND or --all")
        raise typer.Exit(2)
    with open_warehouse(settings) as wh:
        if all_brands:
            result = _diagnose_all(wh, settings)
            if truth is not None:
                _print_agreement(result, truth)
        if brand is not None and as_json:
            _print_json(wh, brand, period)
        elif brand is not None:
            _show_brand(wh, brand, period, language)


def _print_json(wh: Warehouse, brand: str, period: str | None) -> None:
    """The brand's scorecard and diagnosis from the read model: the records the API answers."""
    rm = ReadModel.of(wh)
    if rm.brand(brand) is None:
        err_console.print(f"[red]error:[/red] unknown brand {brand!r}")
        raise typer.Exit(1)
    month = None
    if period is not None:
        try:
            month = pick_month(period, [h["period"] for h in rm.stage_history(brand)])
        except LookupError as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
    # plain stdout: the console would wrap and colour the JSON
    sys.stdout.write(rm.brand_diagnosis(brand, month).model_dump_json(indent=2) + "\n")


def _print_agreement(result: dx.Diagnosis, truth: Path) -> None:
    from windmaker.growth.validation import agreement

    try:
        frame = pd.read_parquet(truth)
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]error:[/red] cannot read {truth}: {exc}")
        raise typer.Exit(2) from None
    console.print(agreement(result.stages, result.bottlenecks, frame).markdown())


def _diagnose_all(wh: Warehouse, settings: Settings) -> dx.Diagnosis:
    configs = _configs(settings)
    for name in (dx.BRAND_MONTH, dx.CAPABILITY):
        if not wh.has_table(name):
            err_console.print(f"[red]error:[/red] no {name} table: run `windmaker refresh` first")
            raise typer.Exit(2)
    labels = {"read": "读取指标 read metrics", "diagnose": "诊断 diagnose", "store": "存储 store"}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task(labels["read"], total=3)

        def on_step(s: str) -> None:
            bar.update(task, completed=list(labels).index(s), description=labels[s])

        result, seconds = run_diagnosis(wh, configs, on_step)
        bar.update(task, completed=3, description="完成 done")
    table = Table(title="diagnosis tables 诊断结果表")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, frame in (
        (dx.G_STAGE, result.stages),
        (dx.G_BOTTLENECK, result.bottlenecks),
        (dx.G_PLAN, result.plans),
        (dx.G_PORTFOLIO, result.portfolio),
    ):
        table.add_row(name, f"{len(frame):,}")
    console.print(table)
    console.print(
        f"diagnose: {seconds['diagnose']:.2f}s, promotions learned from {len(result.transitions):,}"
    )
    return result


def _month(period: str | None, wh: Warehouse, brand: str) -> pd.Timestamp:
    if period is not None:
        try:
            return pd.Timestamp(f"{period}-01")
        except ValueError:
            err_console.print(f"[red]error:[/red] --period {period!r} is not YYYY-MM")
            raise typer.Exit(2) from None
    t = wh.table(dx.G_STAGE)
    latest = wh.execute(t.filter(t.brand_id == brand).period.max())
    if latest is None or pd.isna(latest):
        err_console.print(f"[red]error:[/red] no diagnosis for brand {brand!r}")
        raise typer.Exit(1)
    return pd.Timestamp(latest)


def _rows(wh: Warehouse, name: str, brand: str, month: pd.Timestamp) -> pd.DataFrame:
    t = wh.table(name)
    return wh.execute(t.filter((t.brand_id == brand) & (t.period == ibis.literal(month.date()))))


def _show_brand(wh: Warehouse, brand: str, period: str | None, lang: str) -> None:
    if not wh.has_table(dx.G_STAGE):
        err_console.print("[red]error:[/red] no diagnosis yet: run `windmaker diagnose --all`")
        raise typer.Exit(2)
    month = _month(period, wh, brand)
    stage = _rows(wh, dx.G_STAGE, brand, month)
    if stage.empty:
        err_console.print(f"[red]error:[/red] no diagnosis for {brand!r} in {month:%Y-%m}")
        raise typer.Exit(1)
    row = stage.iloc[0]
    console.rule(f"[bold]{brand}[/bold] · {row['category']} · {month:%Y-%m}")

    cap = _rows(wh, dx.CAPABILITY, brand, month)
    if wh.has_table(G_MODEL_SCORES):
        # the month the models were fitted to: P and T scores blended with the models
        blended = _rows(wh, G_MODEL_SCORES, brand, month).set_index("capability")["score"]
        cap = cap.assign(score=cap["capability"].map(blended).fillna(cap["score"]))
    gaps = _rows(wh, dx.G_BOTTLENECK, brand, month).sort_values("rank")
    card = Table(title=_w("scorecard", lang))
    for col in ("capability", "score", "index", "target_index", "gap", "rank"):
        card.add_column(_w(col, lang), justify="left" if col == "capability" else "right")
    merged = gaps.merge(cap[["capability", "score"]], on="capability", how="left")
    for _, g in merged.iterrows():
        style = "bold red" if g["rank"] == 1 else None
        card.add_row(
            _w(g["capability"], lang),
            _fmt(g["score"], 0),
            _fmt(g["brand_index"], 2),
            _fmt(g["target_index"], 2),
            _fmt(g["gap"], 2),
            str(int(g["rank"])),
            style=style,
        )
    console.print(card)
    if not gaps.empty:
        ref = gaps.iloc[0].to_dict()
        # a capability at or above its reference is never called a weakness
        weak = bool(ref.get("weakness", True)) or ref.get("ranked_by") == "criterion"
        if weak:
            console.print(
                f"{_w('bottleneck', lang)}: [bold]{_w(str(ref['capability']), lang)}[/bold] — "
                f"{explain_bottleneck(ref, lang)}"
            )
        else:
            console.print(f"{_w('bottleneck', lang)}: {t('bottleneck.no_weakness', lang)}")

    stage_line = f"{_w('stage', lang)}: [bold]{_w(row['stage'], lang)}[/bold]"
    if row["candidate_stage"] != row["stage"]:
        stage_line += f"  ({_w('candidate', lang)}: {_w(row['candidate_stage'], lang)})"
    console.print(stage_line)
    console.print(
        f"{_w('reason', lang)}: {reason_text(row['reason_code'], row['reason_params'], lang)}"
    )

    if not wh.has_table(dx.G_PLAN):
        return
    plan = _rows(wh, dx.G_PLAN, brand, month).sort_values("rank")
    if plan.empty:
        console.print(f"[dim]{_w('plan', lang)}: — (plans are stored for the latest periods)[/dim]")
        return
    table = Table(title=_w("plan", lang), show_lines=True)
    for col in ("rank", "action", "capability", "metric", "current", "target", "evidence"):
        table.add_column(_w(col, lang))
    for _, p in plan.iterrows():
        title = p["title_zh"] if lang.startswith("zh") else p["title_en"]
        table.add_row(
            str(int(p["rank"])),
            title,
            _w(p["capability"], lang),
            p["metric"],
            _fmt(p["current"], 3),
            _fmt(p["target"], 3),
            _evidence_text(p["evidence"], lang),
        )
    console.print(table)


def _fmt(value: Any, decimals: int) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):,.{decimals}f}"


def _evidence_text(evidence: str, lang: str) -> str:
    ev = json.loads(evidence)
    if "source" in ev:
        # a model-backed action: the figures are in its title; name the model table
        return f"{'模型' if lang.startswith('zh') else 'model'}: {ev['source']}"
    peers = ev.get("peers", [])
    if not peers:
        return "—"
    zh = lang.startswith("zh")
    lines = []
    for p in peers:
        months = f"{'≥' if p.get('censored') else ''}{p['months']}"
        moved = f"{_fmt(p['from'], 3)} → {_fmt(p['to'], 3)}"
        lines.append(f"{p['brand_id']}: {moved}, {months}{'个月' if zh else ' months'}")
    return "\n".join(lines)


def portfolio(
    category: Annotated[str | None, typer.Option(help="Only this category")] = None,
    stage: Annotated[str | None, typer.Option(help="Only this stage code")] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="Month YYYY-MM (default: the latest)")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows to show")] = 50,
    include_ok: Annotated[
        bool, typer.Option("--include-ok", help="Show on-track brands too")
    ] = False,
    lang: LangOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Rank the portfolio by attention (品牌组合关注排序): stalled, falling, ready, trust alert."""
    settings = settings_or_exit(workspace)
    language = lang or settings.language
    with open_warehouse(settings) as wh:
        if not wh.has_table(dx.G_PORTFOLIO):
            err_console.print("[red]error:[/red] no diagnosis yet: run `windmaker diagnose --all`")
            raise typer.Exit(2)
        t = wh.table(dx.G_PORTFOLIO)
        month = pd.Timestamp(f"{period}-01") if period else pd.Timestamp(wh.execute(t.period.max()))
        expr = t.filter(t.period == ibis.literal(month.date()))
        if category:
            expr = expr.filter(expr.category == category)
        if stage:
            expr = expr.filter(expr.stage == stage)
        if not include_ok:
            expr = expr.filter(expr.attention != "ok")
        rows = wh.execute(expr.order_by("priority").limit(limit))
    table = Table(title=f"{_w('portfolio', language)} · {month:%Y-%m}")
    for col in ("priority", "brand", "category", "stage", "attention", "gmv_at_stake"):
        table.add_column(
            _w(col, language), justify="right" if col in ("priority", "gmv_at_stake") else "left"
        )
    for _, r in rows.iterrows():
        table.add_row(
            str(int(r["priority"])),
            str(r["brand_id"]),
            str(r["category"]),
            _w(r["stage"], language),
            _w(r["attention"], language),
            f"¥{float(r['gmv_at_stake']):,.0f}",
        )
    console.print(table)
