"""``windmaker factories``: source factories (源头工厂), industrial belts (产业带), and factories
ranked for a brand looking for a channel-exclusive SKU. The same read model as the page and the
API, so every surface shows the same numbers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from windmaker.cli.common import WorkspaceOpt, console, err_console, settings_or_exit
from windmaker.config import ConfigError
from windmaker.ecosystem.factories import FactoryConfig
from windmaker.i18n import name, reason_text, t
from windmaker.numbers import Formatter
from windmaker.services.configs import Configs
from windmaker.views import ReadModel
from windmaker.views import factories as view
from windmaker.workspace import open_warehouse

app = typer.Typer(
    help="Source factories, industrial belts and factory rankings (源头工厂、产业带).",
    no_args_is_help=True,
)

LIST_COLUMNS = (
    "name",
    "region",
    "category",
    "quality_score",
    "refund_rate",
    "refund_ratio",
    "complaints",
    "hit_rate",
    "special_skus",
    "gated",
)
BELT_COLUMNS = ("region", "category", "factories", "brands", "net_gmv", "growth")
ORIGIN_COLUMNS = ("origin", "origin_brands", "moved_up", "step_months", "ka_share")

LangOpt = Annotated[
    Literal["zh-CN", "en"] | None,
    typer.Option("--lang", help="zh-CN or en (default: the workspace language)"),
]


def _config(configs: Configs) -> FactoryConfig:
    try:
        return configs.factories
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@contextmanager
def _reading(
    workspace: Path | None, lang: str | None
) -> Iterator[tuple[str, Formatter, FactoryConfig, ReadModel]]:
    """The language, its number formatter, ``factories.yaml`` and a read model of the
    workspace's warehouse, open for the command's reads."""
    settings = settings_or_exit(workspace)
    language = lang or settings.language
    config = _config(Configs.of(settings))
    with open_warehouse(settings) as wh:
        yield language, Formatter(language), config, ReadModel.of(wh)


def _table(title: str | None, columns: tuple[str, ...], language: str) -> Table:
    """A table headed by the catalogue's ``factory.<column>`` words."""
    table = Table(title=title)
    for col in columns:
        table.add_column(t(f"factory.{col}", language))
    return table


@app.command("list")
def list_factories(
    category: Annotated[str | None, typer.Option(help="Only this category")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show")] = 30,
    lang: LangOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Factories by quality score in their category (工厂质量分)."""
    with _reading(workspace, lang) as (language, fmt, config, rm):
        rows = view.factory_rows(rm, config, category=category)
    table = _table(t("factory.title", language), LIST_COLUMNS, language)
    for r in rows[:limit]:
        table.add_row(
            str(r["name"]),
            str(r["region"]),
            name("category", r["category"], language),
            fmt.num(r["quality_score"], 0),
            fmt.pct(r["refund_rate"]),
            f"{fmt.num(r['refund_ratio'], 2)}×",
            fmt.num(r["quality_complaints_per_1k"], 1),
            fmt.pct(r["hit_rate"], 0),
            fmt.count(r["special_skus"]),
            t("factory.gated_yes" if r["gated"] else "factory.gated_no", language),
        )
    console.print(table)


@app.command("belts")
def belts(
    limit: Annotated[int, typer.Option(help="Rows to show")] = 20,
    lang: LangOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Industrial belts: region × category, their goods' net GMV and growth (产业带)."""
    with _reading(workspace, lang) as (language, fmt, config, rm):
        rows, origins = view.belt_rows(rm, config), view.origin_rows(rm)
    table = _table(t("factory.belts", language), BELT_COLUMNS, language)
    for r in rows[:limit]:
        table.add_row(
            str(r["region"]),
            name("category", r["category"], language),
            fmt.count(r["factories"]),
            fmt.count(r["brands"]),
            fmt.money(r["net_gmv"], compact=True),
            fmt.change(r["growth"]),
        )
    console.print(table)
    climb = _table(t("factory.origins", language), ORIGIN_COLUMNS, language)
    for o in origins:
        climb.add_row(
            name("origin", o["origin"], language),
            fmt.count(o["brands"]),
            fmt.pct(o["moved_up_share"], 0),
            fmt.num(o["median_step_months"], 1),
            fmt.pct(o["ka_or_above_share"], 0),
        )
    console.print(climb)


@app.command("rank")
def rank(
    brand_id: Annotated[str, typer.Argument(help="The brand looking for a channel-exclusive SKU")],
    top: Annotated[int, typer.Option(help="Factories to rank")] = 10,
    lang: LangOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Factories ranked for a brand's channel-exclusive SKU, with the reasons (特供工厂推荐)."""
    with _reading(workspace, lang) as (language, fmt, config, rm):
        if rm.brand(brand_id) is None:
            err_console.print(f"[red]error:[/red] {t('error.not_found', language)}: {brand_id}")
            raise typer.Exit(3)
        found = view.brand_factories(rm, config, brand_id, top=top)
    console.print(t("factory.for_brand", language, brand=found.brand_name or brand_id))
    if found.special_supply_bottleneck:
        console.print(t("factory.special_bottleneck", language))
    table = _table(None, ("rank", "name", "region", "quality_score", "why"), language)
    for p in found.picks:
        why = "\n".join(reason_text(r["code"], r["params"], language) for r in p["reasons"])
        table.add_row(
            fmt.count(p["rank"]),
            str(p["name"]),
            str(p["region"]),
            fmt.num(p["quality_score"], 0),
            why,
        )
    console.print(table)
