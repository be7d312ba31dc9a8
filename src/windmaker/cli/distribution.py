"""Distribution commands (达人分销): influencer recommendations, hit products, horse race, concentration.

``windmaker influencers recommend [BRAND] [--sku SKU]``, ``windmaker hits``,
``windmaker horse-race [BRAND]`` and ``windmaker concentration`` call the use cases of
:mod:`windmaker.services.distribution` (which store ``mdl_recommendations``, ``mdl_hits``,
``mdl_horse_race`` and ``mdl_concentration``) and render what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from windmaker.cli.common import WorkspaceOpt, console, err_console, refused, settings_or_exit
from windmaker.config import ConfigError, Settings
from windmaker.i18n import name, reason_text
from windmaker.models.matching import RecommendationList
from windmaker.results import CONCENTRATION, HITS, HORSE_RACE, RECOMMENDATIONS
from windmaker.services import distribution as service
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.workspace import open_warehouse

influencers_app = typer.Typer(
    help="Influencer matching: who a brand should work with next (达人匹配推荐).",
    no_args_is_help=True,
)


# -- shared ----------------------------------------------------------------------------------
def _configs(settings: Settings) -> Configs:
    try:
        return Configs.of(settings).check(["distribution", "trust"])
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@contextmanager
def _progress(
    settings: Settings, text: str, bar: bool = False
) -> Iterator[Callable[[int, int], None]]:
    """A spinner (with a bar when ``bar``) following a use case's ``progress(done, total)``;
    a refusal of the use case stops it and is printed like every refusal (exit 3)."""
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if bar:
        columns.append(BarColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(text, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        try:
            yield update
        except ServiceError as exc:
            progress.stop()
            raise refused(exc, settings) from None


def _lang(settings: Settings) -> str:
    return "zh-CN" if settings.language == "zh-CN" else "en"


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
    month: date | None = None
    if as_of:
        try:
            month = date.fromisoformat(as_of + "-01")
        except ValueError:
            err_console.print(f"[red]error:[/red] --as-of {as_of!r} is not a month YYYY-MM")
            raise typer.Exit(2) from None
    configs = _configs(settings)
    with (
        open_warehouse(settings) as wh,
        _progress(settings, "ranking / 训练与排序", bar=True) as progress,
    ):
        got = service.recommend_influencers(
            wh, configs, brand=brand, sku=sku, top=top, as_of=month, progress=progress
        )
    if not got.stored:
        console.print("no eligible influencers / 没有符合条件的达人")
        return
    if brand:
        _print_recommendations(settings, got.lists[0], brand, sku)
    console.print(f"stored {got.stored:,} rows in {RECOMMENDATIONS} / 已写入")


def _print_recommendations(
    settings: Settings, rl: RecommendationList, brand: str, sku: str | None
) -> None:
    lang = _lang(settings)
    zh = lang == "zh-CN"
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
            reason_text(r.reason_code, r.reason_params, lang),
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
                reason_text(g.reason_code, g.reason_params, lang),
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
    configs = _configs(settings)
    with (
        open_warehouse(settings) as wh,
        _progress(settings, "counting first-week sales / 统计首周销量") as p,
    ):
        got = service.detect_hits(wh, configs, days=days, progress=p)
    if not got.verdicts:
        console.print("not enough SKUs with sales / 有销量的商品不足")
        return
    lang = _lang(settings)
    table = Table(title="测款结果" if lang == "zh-CN" else "Hit detection")
    for col in ("sku", "brand", "first sale", "orders", "P(hit)", "decision", "why"):
        table.add_column(col)
    order = {"push": 0, "keep_testing": 1, "drop": 2}
    shown = sorted(got.verdicts, key=lambda v: (order.get(v.decision, 3), -v.p_hit))
    for v in shown[:30]:
        table.add_row(
            v.sku_id,
            v.brand_id,
            str(v.first_sale.date()),
            str(v.orders),
            f"{v.p_hit:.0%}",
            name("decision", v.decision, lang),
            reason_text(v.reason_code, v.reason_params, lang),
        )
    console.print(table)
    console.print(
        f"push {got.count('push')} · keep testing {got.count('keep_testing')} · "
        f"drop {got.count('drop')}; stored in {HITS}"
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
    configs = _configs(settings)
    with (
        open_warehouse(settings) as wh,
        _progress(settings, "weekly results / 统计自播账号周数据") as p,
    ):
        got = service.race_matrix_accounts(wh, configs, progress=p)
    if got.as_of is None:
        console.print("no live sessions of brand accounts / 没有自播场次")
        return
    entries = [e for e in got.entries if not brand or e.brand_id == brand]
    if brand and not entries:
        console.print(f"{brand}: fewer than {got.min_accounts} matrix accounts live / 矩阵号不足")
        return
    lang = _lang(settings)
    title = "矩阵号赛马" if lang == "zh-CN" else "Horse race"
    table = Table(title=title + (f": {brand}" if brand else ""))
    for col in ("brand", "account", "weeks", "GMV/live hour", "P(best)", "decision", "why"):
        table.add_column(col)
    for e in entries[:40]:
        table.add_row(
            e.brand_id,
            e.account_id,
            str(e.weeks),
            f"¥{e.gmv_per_live_hour_shrunk:,.0f}",
            f"{e.p_best:.0%}",
            name("decision", e.decision, lang),
            reason_text(e.reason_code, e.reason_params, lang),
        )
    console.print(table)
    console.print(f"stored in {HORSE_RACE}")


# -- concentration ---------------------------------------------------------------------------
def concentration(workspace: WorkspaceOpt = None) -> None:
    """Concentration risk (达人依赖风险): brands whose distribution GMV hangs on one influencer.

    Stores ``mdl_concentration`` for the last ``window_days`` days of orders.
    """
    settings = settings_or_exit(workspace)
    configs = _configs(settings)
    with open_warehouse(settings) as wh, _progress(settings, "concentration / 达人依赖") as p:
        got = service.concentration_risk(wh, configs, progress=p)
    zh = _lang(settings) == "zh-CN"
    span = f"{got.start} – {got.end}"
    table = Table(title=f"达人依赖风险 {span}" if zh else f"Concentration risk {span}")
    for col in ("brand", "distribution GMV", "influencers", "top influencer", "top share", "HHI"):
        table.add_column(col)
    for r in got.flagged[:30]:
        table.add_row(
            r.brand_id,
            f"¥{float(r.distribution_gmv):,.0f}",
            str(r.influencers),
            r.top_influencer,
            f"{r.top_share:.0%}",
            f"{r.hhi:.2f}",
        )
    console.print(table)
    console.print(f"{len(got.flagged)} brands flagged; stored in {CONCENTRATION}")


def register(app: typer.Typer) -> None:
    """Add the distribution commands to the ``windmaker`` command."""
    app.add_typer(influencers_app, name="influencers")
    app.command()(hits)
    app.command("horse-race")(horse_race)
    app.command()(concentration)
