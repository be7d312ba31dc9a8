"""Distribution commands (达人分销): influencer recommendations, hit products, horse race, concentration.

``windmaker influencers recommend [BRAND] [--sku SKU]``, ``windmaker hits``,
``windmaker horse-race [BRAND]`` and ``windmaker concentration`` fit the models of
:mod:`windmaker.models` on the warehouse and store ``mdl_recommendations``, ``mdl_hits``,
``mdl_horse_race`` and ``mdl_concentration``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated

import pandas as pd
import pyarrow as pa
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from windmaker import contract
from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.config import ConfigError, Settings
from windmaker.models import concentration as conc
from windmaker.models import hits as hit_model
from windmaker.models import horse_race as hr
from windmaker.models import matching
from windmaker.warehouse import Warehouse
from windmaker.workspace import open_warehouse

RECOMMENDATIONS = "mdl_recommendations"
HITS = "mdl_hits"
HORSE_RACE = "mdl_horse_race"
CONCENTRATION = "mdl_concentration"
TRUST_SCORES = "mdl_trust_scores"

influencers_app = typer.Typer(
    help="Influencer matching: who a brand should work with next (达人匹配推荐).",
    no_args_is_help=True,
)


# -- shared ----------------------------------------------------------------------------------
def _config(settings: Settings) -> matching.DistributionConfig:
    try:
        return matching.load_distribution_config(settings.config_path)
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _tables(wh: Warehouse) -> dict[str, object]:
    return {t.name: wh.table(t.name) for t in contract.TABLES}


def _frame(wh: Warehouse, expr: object) -> pd.DataFrame:
    return wh.to_arrow(expr).to_pandas()  # type: ignore[arg-type]


@contextmanager
def _spinner(text: str) -> Iterator[None]:
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as progress:
        progress.add_task(text, total=None)
        yield


def _zh(settings: Settings) -> bool:
    return settings.language == "zh-CN"


def _money(values: pd.Series) -> pa.Array:
    """Yuan as DECIMAL(18,2), rounded half-up from the model's float."""
    return pa.array(
        [None if pd.isna(v) else Decimal(f"{float(v):.2f}") for v in values],
        type=pa.decimal128(18, 2),
    )


def _last_order_day(wh: Warehouse) -> date:
    orders = wh.table(contract.ORDERS.name)
    last = _frame(wh, orders.aggregate(last=orders.paid_at.max()))["last"].iloc[0]
    if pd.isna(last):
        err_console.print("[red]error:[/red] the warehouse has no orders yet / 仓库中还没有订单")
        raise typer.Exit(2)
    return pd.Timestamp(last).date()


def _replace_rows(wh: Warehouse, name: str, new: pa.Table, key: str, keys: set[str]) -> None:
    """Write ``new`` into table ``name`` in place of its rows whose ``key`` is in ``keys``."""
    if wh.has_table(name):
        old = wh.to_arrow(wh.table(name))
        if old.schema.names == new.schema.names:
            old_df = old.to_pandas()
            kept = old_df[~old_df[key].astype(str).isin(keys)]
            new = pa.concat_tables(
                [pa.Table.from_pandas(kept, schema=new.schema, preserve_index=False), new]
            )
    wh.write(name, new)


# -- influencers recommend -------------------------------------------------------------------
@influencers_app.command("recommend")
def recommend(
    brand: Annotated[
        str | None, typer.Argument(help="Brand id; every brand when left out / 品牌ID")
    ] = None,
    sku: Annotated[str | None, typer.Option("--sku", help="Rank for one SKU / 单品匹配")] = None,
    top: Annotated[int | None, typer.Option(help="Length of the list / 推荐数量")] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Use history before this month, YYYY-MM (default: all) / 截止月份"),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Rank influencers a brand has not worked with by predicted cooperation GMV (达人推荐).

    Stores the lists in ``mdl_recommendations``; influencers below the trust threshold are never
    recommended, and the best-scoring of them are listed with the reason.
    """
    settings = settings_or_exit(workspace)
    cfg = _config(settings)
    with open_warehouse(settings) as wh:
        last = _last_order_day(wh)
        cutoff = (
            pd.Timestamp(as_of + "-01")
            if as_of
            else (pd.Timestamp(last) + pd.offsets.MonthBegin(1)).normalize()
        )
        with _spinner("reading the cooperation history / 读取合作记录"):
            exprs = matching.source_expressions(_tables(wh))  # type: ignore[arg-type]
            frames = matching.MatchingFrames.from_results(
                {k: _frame(wh, e) for k, e in exprs.items()}
            )
            scores = _frame(wh, wh.table(TRUST_SCORES)) if wh.has_table(TRUST_SCORES) else None
        gate: matching.TrustGate = (
            matching.TrustModuleGate(scores, cutoff)
            if scores is not None and len(scores)
            else matching.ProxyTrustGate(cfg.matching.trust)
        )
        try:
            with _spinner("fitting ALS and the ranker / 训练协同过滤与排序模型"):
                model = matching.fit_matching(frames.before(cutoff), cutoff, cfg.matching, gate)
        except ValueError as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        brands = [brand] if brand else [str(b) for b in model.state.brand_ids]
        lists: list[matching.RecommendationList] = []
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("ranking / 排序", total=len(brands))
            for b in brands:
                try:
                    lists.append(matching.recommend(model, b, sku_id=sku, top_k=top))
                except KeyError as exc:
                    err_console.print(f"[red]error:[/red] {exc.args[0]}")
                    raise typer.Exit(2) from None
                progress.advance(task)
        recs = pd.concat([rl.frame() for rl in lists], ignore_index=True)
        if recs.empty:
            console.print("no eligible influencers / 没有符合条件的达人")
            return
        recs["as_of"] = cutoff.date()
        _replace_rows(wh, RECOMMENDATIONS, _recommendation_arrow(recs), "brand_id", set(brands))
    if brand:
        _print_recommendations(settings, lists[0], brand, sku)
    console.print(f"stored {len(recs):,} rows in {RECOMMENDATIONS} / 已写入")


def _recommendation_arrow(recs: pd.DataFrame) -> pa.Table:
    return pa.table(
        {
            "brand_id": pa.array(recs["brand_id"].astype(str)),
            "sku_id": pa.array(recs["sku_id"], type=pa.string()),
            "as_of": pa.array(recs["as_of"], type=pa.date32()),
            "rank": pa.array(recs["rank"], type=pa.int64()),
            "account_id": pa.array(recs["account_id"].astype(str)),
            "name": pa.array(recs["name"].astype(str)),
            "expected_gmv": _money(recs["expected_gmv"]),
            "gmv_if_cooperating": _money(recs["gmv_if_cooperating"]),
            "p_cooperate": pa.array(recs["p_cooperate"], type=pa.float64()),
            "trust_score": pa.array(recs["trust_score"], type=pa.float64()),
            "reasons_en": pa.array(recs["reasons_en"].astype(str)),
            "reasons_zh": pa.array(recs["reasons_zh"].astype(str)),
        }
    )


def _print_recommendations(
    settings: Settings, rl: matching.RecommendationList, brand: str, sku: str | None
) -> None:
    zh = _zh(settings)
    title = f"{'达人推荐' if zh else 'Influencers to work with'}: {brand}" + (
        f" / {sku}" if sku else ""
    )
    table = Table(title=title)
    for col in ("#", "influencer", "expected GMV", "GMV if cooperating", "trust", "why"):
        table.add_column(col, justify="right" if col in ("#", "trust") else "left")
    for r in rl.recommendations:
        table.add_row(
            str(r.rank),
            f"{r.name} ({r.account_id})",
            f"¥{r.expected_gmv:,.0f}",
            f"¥{r.gmv_if_cooperating:,.0f}",
            "" if r.trust_score is None else f"{r.trust_score:.0f}",
            r.reasons_zh if zh else r.reasons_en,
        )
    console.print(table)
    if len(rl.gated):
        gated = Table(
            title="未推荐: 信任分未达标" if zh else "Not recommended: below the trust gate"
        )
        for col in ("influencer", "trust", "why"):
            gated.add_column(col)
        for g in rl.gated.itertuples():
            gated.add_row(
                f"{g.name} ({g.account_id})",
                "" if pd.isna(g.trust_score) else f"{g.trust_score:.0f}",
                g.reason_zh if zh else g.reason_en,
            )
        console.print(gated)


# -- hits ------------------------------------------------------------------------------------
def hits(
    days: Annotated[
        int, typer.Option(help="SKUs whose first sale is in the last N days / 最近N天首销")
    ] = 28,
    workspace: WorkspaceOpt = None,
) -> None:
    """Hit-product detection (测款/打爆款): P(hit) of new SKUs and push / keep testing / drop.

    Stores every recently launched SKU's verdict in ``mdl_hits``.
    """
    settings = settings_or_exit(workspace)
    cfg = _config(settings)
    with open_warehouse(settings) as wh:
        last = _last_order_day(wh)
        with _spinner("counting first-week sales / 统计首周销量"):
            launches = _frame(
                wh,
                hit_model.launch_window_expression(_tables(wh), cfg.hits.window_days),  # type: ignore[arg-type]
            )
        if len(launches) < 2:
            console.print("not enough SKUs with sales / 有销量的商品不足")
            return
        scored = hit_model.score_hits(launches, cfg.hits)
        since = pd.Timestamp(last) - pd.Timedelta(days=days)
        recent = scored[pd.to_datetime(scored["first_sale"]) >= since].copy()
        recent["as_of"] = last
        wh.write(HITS, _hits_arrow(recent))
    zh = _zh(settings)
    table = Table(title="测款结果" if zh else "Hit detection")
    for col in ("sku", "brand", "first sale", "orders", "P(hit)", "decision", "why"):
        table.add_column(col)
    order = {"push": 0, "keep_testing": 1, "drop": 2}
    shown = recent.assign(o=recent["decision"].map(order)).sort_values(
        ["o", "p_hit"], ascending=[True, False]
    )
    for r in shown.head(30).itertuples():
        table.add_row(
            str(r.sku_id),
            str(r.brand_id),
            str(pd.Timestamp(r.first_sale).date()),
            str(r.orders),
            f"{r.p_hit:.0%}",
            hit_model.DECISION_ZH[r.decision] if zh else r.decision,
            r.reason_zh if zh else r.reason_en,
        )
    console.print(table)
    counts = recent["decision"].value_counts()
    console.print(
        f"push {counts.get('push', 0)} · keep testing {counts.get('keep_testing', 0)} · "
        f"drop {counts.get('drop', 0)}; stored in {HITS}"
    )


def _hits_arrow(df: pd.DataFrame) -> pa.Table:
    return pa.table(
        {
            "sku_id": pa.array(df["sku_id"].astype(str)),
            "brand_id": pa.array(df["brand_id"].astype(str)),
            "category": pa.array(df["category"].astype(str)),
            "first_sale": pa.array(pd.to_datetime(df["first_sale"]), type=pa.timestamp("us")),
            "as_of": pa.array(df["as_of"], type=pa.date32()),
            "orders": pa.array(df["orders"], type=pa.int64()),
            "live_orders": pa.array(df["live_orders"], type=pa.int64()),
            "gmv": _money(df["gmv"]),
            "exposure": pa.array(
                hit_model.sales_and_exposure(df, hit_model.HitConfig())[1], type=pa.float64()
            ),
            "rate_mean": pa.array(df["rate_mean"], type=pa.float64()),
            "rate_low": pa.array(df["rate_low"], type=pa.float64()),
            "rate_high": pa.array(df["rate_high"], type=pa.float64()),
            "hit_rate_threshold": pa.array(df["hit_rate_threshold"], type=pa.float64()),
            "p_hit": pa.array(df["p_hit"], type=pa.float64()),
            "decision": pa.array(df["decision"].astype(str)),
            "reason_en": pa.array(df["reason_en"].astype(str)),
            "reason_zh": pa.array(df["reason_zh"].astype(str)),
        }
    )


# -- horse race ------------------------------------------------------------------------------
def horse_race(
    brand: Annotated[str | None, typer.Argument(help="Brand id to show / 品牌ID")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Matrix-account horse race (矩阵号赛马): which own accounts to scale, keep or stop.

    Races every brand's matrix accounts over the last ``weeks`` weeks and stores
    ``mdl_horse_race``; shows one brand when given.
    """
    settings = settings_or_exit(workspace)
    cfg = _config(settings).horse_race
    with open_warehouse(settings) as wh:
        with _spinner("weekly results of brand accounts / 统计自播账号周数据"):
            weeks = _frame(wh, hr.account_week_expression(_tables(wh)))  # type: ignore[arg-type]
        if weeks.empty:
            console.print("no live sessions of brand accounts / 没有自播场次")
            return
        weeks["week"] = pd.to_datetime(weeks["week"])
        last = weeks["week"].max()
        recent = weeks[weeks["week"] > last - pd.Timedelta(weeks=cfg.weeks)]
        res = hr.race(recent, cfg)
        res["as_of"] = last.date()
        wh.write(HORSE_RACE, _race_arrow(res))
    if brand:
        res = res[res["brand_id"] == brand]
        if res.empty:
            console.print(
                f"{brand}: fewer than {cfg.min_accounts} matrix accounts live / 矩阵号不足"
            )
            return
    zh = _zh(settings)
    table = Table(title=("矩阵号赛马" if zh else "Horse race") + (f": {brand}" if brand else ""))
    for col in ("brand", "account", "weeks", "GMV/live hour", "P(best)", "decision", "why"):
        table.add_column(col)
    for r in res.sort_values(["brand_id", "p_best"], ascending=[True, False]).head(40).itertuples():
        table.add_row(
            str(r.brand_id),
            str(r.account_id),
            str(r.weeks),
            f"¥{r.gmv_per_live_hour_shrunk:,.0f}",
            f"{r.p_best:.0%}",
            {"scale": "加大投入", "keep": "保持", "stop": "停播"}[r.decision] if zh else r.decision,
            r.reason_zh if zh else r.reason_en,
        )
    console.print(table)


def _race_arrow(df: pd.DataFrame) -> pa.Table:
    cols: dict[str, pa.Array] = {
        "brand_id": pa.array(df["brand_id"].astype(str)),
        "account_id": pa.array(df["account_id"].astype(str)),
        "kind": pa.array(df["kind"].astype(str)),
        "as_of": pa.array(df["as_of"], type=pa.date32()),
        "weeks": pa.array(df["weeks"], type=pa.int64()),
        "live_hours": pa.array(df["live_hours"], type=pa.float64()),
        "gmv": _money(df["gmv"]),
    }
    for c in (
        "gmv_per_live_hour",
        "gmv_per_live_hour_shrunk",
        "conversion",
        "conversion_shrunk",
        "p_best",
        "p_best_conversion",
        "p_below_mean",
    ):
        cols[c] = pa.array(df[c].astype(float) if len(df) else [], type=pa.float64())
    for c in ("decision", "reason_en", "reason_zh"):
        cols[c] = pa.array(df[c].astype(str) if len(df) else [], type=pa.string())
    return pa.table(cols)


# -- concentration ---------------------------------------------------------------------------
def concentration(workspace: WorkspaceOpt = None) -> None:
    """Concentration risk (达人依赖风险): brands whose distribution GMV hangs on one influencer.

    Stores ``mdl_concentration`` for the last ``window_days`` days of orders.
    """
    settings = settings_or_exit(workspace)
    cfg = _config(settings).concentration
    with open_warehouse(settings) as wh:
        end = _last_order_day(wh) + timedelta(days=1)
        start = end - timedelta(days=cfg.window_days)
        expr = conc.concentration_expression(_tables(wh), start, end, cfg)  # type: ignore[arg-type]
        wh.write(CONCENTRATION, expr)
        flagged = _frame(wh, wh.table(CONCENTRATION).filter(lambda t: t.flagged))
    flagged = flagged.sort_values("top_share", ascending=False)
    zh = _zh(settings)
    table = Table(
        title=(f"达人依赖风险 {start} – {end}" if zh else f"Concentration risk {start} – {end}")
    )
    for col in ("brand", "distribution GMV", "influencers", "top influencer", "top share", "HHI"):
        table.add_column(col)
    for r in flagged.head(30).itertuples():
        table.add_row(
            str(r.brand_id),
            f"¥{float(r.distribution_gmv):,.0f}",
            str(r.influencers),
            str(r.top_influencer),
            f"{r.top_share:.0%}",
            f"{r.hhi:.2f}",
        )
    console.print(table)
    console.print(f"{len(flagged)} brands flagged; stored in {CONCENTRATION}")


def register(app: typer.Typer) -> None:
    """Add the distribution commands to the ``windmaker`` command."""
    app.add_typer(influencers_app, name="influencers")
    app.command()(hits)
    app.command("horse-race")(horse_race)
    app.command()(concentration)
