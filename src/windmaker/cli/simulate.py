"""``windmaker simulate``: write a synthetic market with planted ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from windmaker.cli.common import console, err_console
from windmaker.config import ConfigError
from windmaker.simulator import MarketConfig
from windmaker.simulator import simulate as run_simulation
from windmaker.simulator.writer import FORMATS


def simulate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the market to")],
    brands: Annotated[int, typer.Option(min=1, help="Number of brands")] = 1000,
    months: Annotated[int, typer.Option(min=1, help="Months in the window")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files)")] = 0,
    end: Annotated[
        str,
        typer.Option(
            help="Last month of the window, YYYY-MM; or YYYY-MM-DD: the export ends on that day"
        ),
    ] = "2026-10",
    fmt: Annotated[
        str, typer.Option("--format", help="parquet (default), csv or xlsx (small markets)")
    ] = "parquet",
    block_brands: Annotated[
        int, typer.Option(min=1, help="Brands generated together (bounds memory)")
    ] = 64,
    compression: Annotated[
        str, typer.Option(help="Parquet codec: snappy (default), zstd or none (fastest)")
    ] = "snappy",
    rings: Annotated[
        str,
        typer.Option(help="Brushing ring kinds, comma-separated: burst, multi_shop, daily; none"),
    ] = "burst",
    loyalty: Annotated[
        bool, typer.Option(help="Loyal fans buy several times a month (no more brushing)")
    ] = False,
    small: Annotated[
        list[str] | None,
        typer.Option(
            "--category-brands", help="CATEGORY=N: a category with exactly N brands (repeatable)"
        ),
    ] = None,
    leaders: Annotated[
        bool,
        typer.Option(
            "--small-category-leaders",
            help="Small categories have KA and SKA brands too (by market-wide potential)",
        ),
    ] = False,
    config_dir: Annotated[
        Path | None, typer.Option(help="Folder with a simulator.yaml overriding the defaults")
    ] = None,
) -> None:
    """Simulate a live-commerce market (模拟市场): the nine data-contract tables, the planted
    truth (truth/) and the provider ecosystem (ecosystem/)."""
    if fmt not in FORMATS:
        err_console.print(f"[red]error:[/red] --format must be one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    try:
        sizes = []
        for item in small or []:
            name, _, n = item.partition("=")
            if not n.isdigit():
                raise ValueError(f"--category-brands takes CATEGORY=N, not {item!r}")
            sizes.append((name, int(n)))
        kinds = () if rings in ("", "none") else tuple(k.strip() for k in rings.split(","))
        config = MarketConfig(
            brands=brands,
            months=months,
            seed=seed,
            end=end,
            block_brands=block_brands,
            compression=compression,
            ring_kinds=kinds,
            loyalty=loyalty,
            category_brands=tuple(sizes),
            small_category_leaders=leaders,
            config_dir=config_dir,
        )
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    columns = (
        TextColumn("[bold]模拟 simulating[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("brands · {task.fields[orders]:,} orders"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("simulate", total=brands, orders=0)

            def advance(done: int, total: int, orders: int) -> None:
                bar.update(task, completed=done, orders=orders)

            summary = run_simulation(config, out, fmt=fmt, progress=advance)  # type: ignore[arg-type]
    except (ConfigError, ValueError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    table = Table(title=f"{out} ({fmt})")
    table.add_column("table 表")
    table.add_column("rows 行数", justify="right")
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    rate = summary.orders / summary.seconds if summary.seconds else 0.0
    console.print(
        f"完成 done: {summary.orders:,} orders in {summary.seconds:.1f} s "
        f"({rate:,.0f} orders/s); truth in {out / 'truth'}, providers in {out / 'ecosystem'}"
    )
