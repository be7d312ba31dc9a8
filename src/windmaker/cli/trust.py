"""``windmaker trust``: order-brushing detection, trust scores and trust gates (信任分与刷单识别)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import pyarrow as pa
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.config import ConfigError, Settings
from windmaker.models import brushing, trust
from windmaker.warehouse import Warehouse
from windmaker.workspace import open_warehouse

app = typer.Typer(
    help="Trust scores, order-brushing detection and trust gates (信任分、刷单识别、信任门槛).",
    no_args_is_help=True,
)

#: High-confidence brushing orders, the ones the metrics refresh leaves out of GMV.
BRUSHING_ORDERS = "mdl_brushing_orders"
#: Every flagged order with its signals and confidence (high and review), for review.
BRUSHING_REVIEW = "mdl_brushing_review"
BRUSHING_WINDOWS = "mdl_brushing_windows"
TRUST_SCORES = "mdl_trust_scores"
TRUST_ALERTS = "mdl_trust_alerts"
TRUST_VIOLATIONS = "mdl_trust_violations"

_FLAGGED_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("brand_id", pa.string()),
        ("buyer_id", pa.string()),
        ("paid_at", pa.timestamp("us")),
        ("method", pa.string()),
        ("window_start", pa.timestamp("us")),
        ("window_end", pa.timestamp("us")),
        ("window_orders", pa.int64()),
        ("window_buyers", pa.int64()),
        ("block_id", pa.int64()),
        ("signals", pa.string()),
        ("n_signals", pa.int64()),
        ("confidence", pa.string()),
    ]
)
_WINDOW_SCHEMA = pa.schema(
    [
        ("brand_id", pa.string()),
        ("first", pa.timestamp("us")),
        ("last", pa.timestamp("us")),
        ("orders", pa.int64()),
        ("buyers", pa.int64()),
        ("suspicious_buyers", pa.string()),
    ]
)
_ALERT_SCHEMA = pa.schema(
    [
        ("brand_id", pa.string()),
        ("account_id", pa.string()),
        ("period", pa.date32()),
        ("kind", pa.string()),
        ("severe", pa.bool_()),
        ("score", pa.float64()),
        ("threshold", pa.float64()),
        ("reason_en", pa.string()),
        ("reason_zh", pa.string()),
    ]
)
_VIOLATION_SCHEMA = pa.schema(
    [
        ("brand_id", pa.string()),
        ("period", pa.date32()),
        ("violations", pa.int64()),
        ("severe_violations", pa.int64()),
    ]
)


def _arrow(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """``df`` with exactly ``schema``'s columns and types (an empty frame keeps its types)."""
    return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)


def _config(settings: Settings) -> trust.TrustConfig:
    try:
        return trust.load_config(settings.config_path)
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


def run_brushing(wh: Warehouse, config: trust.TrustConfig) -> brushing.BrushingReport:
    """Detect brushing over the warehouse's orders and store the flags: high-confidence ones in
    ``mdl_brushing_orders`` (left out of GMV), all of them with their signals in
    ``mdl_brushing_review``, and the rule's periods."""
    reviews = wh.table("reviews") if wh.has_table("reviews") else None
    orders = wh.to_arrow(brushing.brushing_input(wh.table("orders"), reviews)).to_pandas()
    report = brushing.detect_brushing(orders, config.brushing)
    wh.write(BRUSHING_ORDERS, _arrow(report.flagged, _FLAGGED_SCHEMA))
    wh.write(BRUSHING_REVIEW, _arrow(report.review, _FLAGGED_SCHEMA))
    wh.write(BRUSHING_WINDOWS, _arrow(report.windows, _WINDOW_SCHEMA))
    return report


def market_figures(folder: Path, config: trust.TrustConfig | None = None) -> dict[str, object]:
    """Detect brushing in a simulated market folder and return the figures it is held to
    (:func:`windmaker.models.brushing.bar_figures`: flagged share, largest brand share,
    precision and recall per planted ring kind), plus the review count and the seconds taken.
    """
    import time

    config = config or trust.load_config()
    orders = pd.read_parquet(folder / "orders.parquet")
    reviewed = pd.read_parquet(folder / "reviews.parquet", columns=["order_id"])["order_id"]
    orders["reviewed"] = orders["order_id"].isin(set(reviewed))
    for col in ("amount", "refund_amount"):
        orders[col] = orders[col].astype("float64")
    ring_file = folder / "truth" / "brushing_rings.parquet"
    rings = pd.read_parquet(ring_file) if ring_file.exists() else None
    clock = time.perf_counter()
    report = brushing.detect_brushing(orders, config.brushing)
    seconds = time.perf_counter() - clock
    out: dict[str, object] = dict(
        brushing.bar_figures(report.flagged, orders.groupby("brand_id").size(), rings)
    )
    out["review_orders"] = int((report.review["confidence"] != brushing.CONFIDENCE_HIGH).sum())
    out["seconds"] = round(seconds, 2)
    return out


def run_scores(wh: Warehouse, config: trust.TrustConfig) -> pd.DataFrame:
    """Score every brand and account, raise the alerts and count violations; store all three."""
    flagged = wh.table(BRUSHING_ORDERS) if wh.has_table(BRUSHING_ORDERS) else None
    frames = []
    for entity, owners in (("brand", "brands"), ("account", "accounts")):
        expr = trust.trust_counts(
            wh.table("orders"),
            wh.table("reviews"),
            wh.table(owners),
            entity=entity,  # type: ignore[arg-type]
            flagged=flagged,
            complaint_types=config.score.complaint_types,
        )
        frames.append(trust.trust_scores(wh.execute(expr), config.score, entity=entity))  # type: ignore[arg-type]
    scores = pd.concat(frames, ignore_index=True)
    table = pa.Table.from_pandas(scores, preserve_index=False)
    period = table.schema.get_field_index("period")
    table = table.set_column(
        period, "period", pa.array(pd.to_datetime(scores["period"]).dt.date, pa.date32())
    )
    wh.write(TRUST_SCORES, table)
    accounts = wh.execute(wh.table("accounts").select("account_id", "brand_id"))
    alerts = trust.trust_alerts(scores, accounts, config)
    wh.write(TRUST_ALERTS, _arrow(alerts, _ALERT_SCHEMA))
    wh.write(TRUST_VIOLATIONS, _arrow(trust.brand_violations(alerts), _VIOLATION_SCHEMA))
    return scores


def _print_brushing(report: brushing.BrushingReport) -> None:
    f = report.review
    table = Table(title="刷单识别 order brushing")
    for col in ("confidence", "signals", "orders", "shops", "buyers"):
        table.add_column(col, justify="left" if col in ("confidence", "signals") else "right")
    for (conf, signals), g in f.groupby(["confidence", "signals"]):
        table.add_row(
            str(conf),
            str(signals),
            f"{len(g):,}",
            f"{g['brand_id'].nunique():,}",
            f"{g['buyer_id'].nunique():,}",
        )
    table.add_row(
        "all", "", f"{len(f):,}", f"{f['brand_id'].nunique():,}", f"{f['buyer_id'].nunique():,}"
    )
    console.print(table)
    high = int((f["confidence"] == brushing.CONFIDENCE_HIGH).sum())
    console.print(
        f"{high:,} high-confidence orders left out of GMV (高置信，剔除), "
        f"{len(f) - high:,} for review (待复核); "
        f"{len(report.windows):,} brushing periods (刷单时段), {len(report.blocks)} rings (团伙)"
    )


@app.command("brushing")
def brushing_command(
    workspace: WorkspaceOpt = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="brushing_rings.parquet of a simulated market: print precision/recall"),
    ] = None,
) -> None:
    """Detect order brushing: high-confidence orders in mdl_brushing_orders, every flag with its
    evidence in mdl_brushing_review (识别刷单：高置信订单剔除，其余列出待复核)."""
    settings = settings_or_exit(workspace)
    config = _config(settings)
    with open_warehouse(settings) as wh, _progress() as bar:
        task = bar.add_task("刷单识别 detecting brushing", total=1)
        report = run_brushing(wh, config)
        bar.update(task, completed=1, description="完成 done")
    _print_brushing(report)
    if truth is not None:
        result = brushing.evaluate(report.flagged, pd.read_parquet(truth))
        table = Table(title="precision / recall vs planted rings")
        for col in result.columns:
            table.add_column(col)
        for row in result.itertuples(index=False):
            table.add_row(row[0], *(f"{v:.3f}" for v in row[1:]))
        console.print(table)


@app.command("scores")
def scores_command(workspace: WorkspaceOpt = None) -> None:
    """Trust scores of every brand and account, alerts and provider violations (信任分与预警)."""
    settings = settings_or_exit(workspace)
    config = _config(settings)
    with open_warehouse(settings) as wh, _progress() as bar:
        task = bar.add_task("信任分 trust scores", total=1)
        scores = run_scores(wh, config)
        alerts = wh.execute(wh.table(TRUST_ALERTS))
        bar.update(task, completed=1, description="完成 done")
    _print_scores(scores, alerts)


@app.command("run")
def run_command(workspace: WorkspaceOpt = None) -> None:
    """Brushing detection, then trust scores and gates (先识别刷单，再计算信任分与门槛)."""
    settings = settings_or_exit(workspace)
    config = _config(settings)
    with open_warehouse(settings) as wh, _progress() as bar:
        task = bar.add_task("刷单识别 detecting brushing", total=2)
        report = run_brushing(wh, config)
        bar.update(task, completed=1, description="信任分 trust scores")
        scores = run_scores(wh, config)
        alerts = wh.execute(wh.table(TRUST_ALERTS))
        bar.update(task, completed=2, description="完成 done")
    _print_brushing(report)
    _print_scores(scores, alerts)


def _print_scores(scores: pd.DataFrame, alerts: pd.DataFrame) -> None:
    periods = pd.to_datetime(scores["period"])
    last = scores[periods == periods.max()]
    table = Table(title=f"信任分 trust scores, period {last['period'].max()}")
    for col in ("entity", "scored", "insufficient data", "median", "alerts"):
        table.add_column(col, justify="left" if col == "entity" else "right")
    recent = alerts[pd.to_datetime(alerts["period"]) == periods.max()]
    for entity, g in last.groupby("entity"):
        ok = g[g["status"] == trust.STATUS_OK]
        kinds = ("low_trust", "brushing") if entity == "brand" else ("low_trust_account",)
        n_alerts = int(recent["kind"].isin(kinds).sum()) if len(recent) else 0
        table.add_row(
            str(entity),
            f"{len(ok):,}",
            f"{len(g) - len(ok):,}",
            f"{ok['score'].median():.1f}" if len(ok) else "-",
            f"{n_alerts:,}",
        )
    console.print(table)


@app.command("show")
def show_command(
    entity_id: Annotated[str, typer.Argument(help="brand_id or account_id")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Why a brand or account has its trust score: each component's points (信任分构成)."""
    settings = settings_or_exit(workspace)
    config = _config(settings)
    with open_warehouse(settings) as wh:
        if not wh.has_table(TRUST_SCORES):
            err_console.print("[red]error:[/red] no trust scores yet; run `windmaker trust run`")
            raise typer.Exit(2)
        t = wh.table(TRUST_SCORES)
        rows = wh.execute(t.filter(t.entity_id == entity_id))
    if rows.empty:
        err_console.print(f"[red]error:[/red] no trust score for {entity_id!r}")
        raise typer.Exit(1)
    row = rows.sort_values("period").iloc[-1]
    if row["status"] != trust.STATUS_OK:
        console.print(
            f"{entity_id} ({row['period']}): 数据不足 insufficient data — {row['orders']} orders, "
            f"need {config.score.min_orders}"
        )
        return
    period = pd.Timestamp(row["period"]).date()
    table = Table(title=f"{entity_id} {row['entity']} · {period} · trust {row['score']:.1f}")
    for col in ("component", "指标", "value", "category ref", "points", "lost"):
        table.add_column(col, justify="left" if col in ("component", "指标") else "right")
    for k, zh, value, ref, lost in trust.explain(row, config.score):
        # a component without data is scored at its reference; say so instead of "nan"
        shown = "无数据 no data" if pd.isna(value) else f"{value:.4g}"
        table.add_row(k, zh, shown, f"{ref:.4g}", f"{row[f'{k}_points']:.1f}", f"{lost:.1f}")
    console.print(table)
