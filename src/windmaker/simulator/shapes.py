"""Markets shaped like real data, and the main job judged against their planted truth.

A diagnosis that agrees with the simulator's default market has been validated on one shape of
data only: the one its authors generated. Real data differs in known ways, and each *shape* here
plants one of them:

========================  ===============================================================
``baseline``              the default market (whole months, brands joined before the data)
``mid_month``             the export ends on the 16th of its last month
``history``               judged from the data's first months (no warm-up left out): brands
                          on the platform long before the data must not read zero-breaking
``small_categories``      three categories of 4, 7 and 12 brands
``loyalty``               loyal fans buy several times a month, some twice a day; no brushing
``rings``                 brushing rings of three kinds: one shop, several shops, once a day
========================  ===============================================================

:func:`judge` runs a shape the way a user runs windmaker: simulated files → ``ingest`` → the
main job (brushing, metrics, trust, diagnosis) → the stored tables, and compares them with the
truth (:mod:`windmaker.growth.validation`) and, for brushing, with the planted rings. Every
shape's market has leaders in its small categories (``small_category_leaders``): at 300 brands
no category holds 1 % by count, and a market without SKA brands cannot show how they are judged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from windmaker.simulator.config import MarketConfig

SHAPES = ("baseline", "mid_month", "history", "small_categories", "loyalty", "rings")


@dataclass(frozen=True)
class Shape:
    """One shape: the market it simulates and how its agreement is judged."""

    name: str
    config: MarketConfig
    #: A brand's first periods in the diagnosis left out of the agreement.
    warmup_periods: int = 3


def shape(name: str, brands: int = 300, months: int = 12, seed: int = 5) -> Shape:
    """The market of shape ``name`` at the given size (see the module docstring)."""
    # Leaders in every category, small ones included: at 300 brands no category holds 1 % by
    # count, and a market without SKA brands cannot show how SKA brands are judged.
    base = MarketConfig(brands=brands, months=months, seed=seed, small_category_leaders=True)
    configs: dict[str, Callable[[], Shape]] = {
        "baseline": lambda: Shape(name, base),
        "mid_month": lambda: Shape(name, replace(base, end=f"{base.end}-16")),
        "history": lambda: Shape(name, base, warmup_periods=0),
        "small_categories": lambda: Shape(
            name,
            replace(base, category_brands=(("sports", 4), ("mother_baby", 7), ("electronics", 12))),
        ),
        "loyalty": lambda: Shape(name, replace(base, loyalty=True, ring_kinds=())),
        "rings": lambda: Shape(name, replace(base, ring_kinds=("burst", "multi_shop", "daily"))),
    }
    if name not in configs:
        raise ValueError(f"unknown shape {name!r}; known: {', '.join(SHAPES)}")
    return configs[name]()


@dataclass
class Judgement:
    """What the main job got right on one shape."""

    shape: str
    brands: int
    months: int
    orders: int
    agreement: Any  # windmaker.growth.validation.Agreement
    #: Brand-months left unjudged (insufficient history).
    unjudged: int
    #: Judged brand-months of brands that joined before the data, diagnosed zero-breaking while
    #: the truth says otherwise.
    established_called_zero: int
    brushing: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def judge(s: Shape, root: Path) -> Judgement:
    """Simulate ``s`` under ``root``, ingest it, run the main job and judge the stored result."""
    seconds = run(s, root)
    return judged(s, root, seconds=seconds)


def run(s: Shape, root: Path) -> dict[str, float]:
    """Simulate ``s`` into ``root/files``, ingest it into the workspace ``root/ws`` and run the
    main job there; returns the seconds of each step."""
    from time import perf_counter

    from windmaker.ingest import ingest_files
    from windmaker.services.run import run_pipeline
    from windmaker.simulator.export import simulate
    from windmaker.workspace import init_workspace

    seconds: dict[str, float] = {}
    clock = perf_counter()
    files = root / "files"
    simulate(s.config, files)
    seconds["simulate"] = perf_counter() - clock
    settings = init_workspace(root / "ws")
    clock = perf_counter()
    report = ingest_files(settings, sorted(files.glob("*.parquet")), progress=False)
    if report.rejected:
        raise RuntimeError(f"{s.name}: {report.rejected} simulated rows were rejected")
    seconds["ingest"] = perf_counter() - clock
    clock = perf_counter()
    run_pipeline(settings)
    seconds["run"] = perf_counter() - clock
    return {k: round(v, 1) for k, v in seconds.items()}


def judged(
    s: Shape, root: Path, warmup_periods: int | None = None, seconds: dict[str, float] | None = None
) -> Judgement:
    """The stored result of :func:`run` under ``root`` against the truth (brushing included)."""
    from windmaker.config.settings import load_settings
    from windmaker.growth.diagnosis import G_BOTTLENECK, G_STAGE, G_UNJUDGED
    from windmaker.growth.validation import agreement
    from windmaker.metrics.refresh import BRUSHING_ORDERS
    from windmaker.models import brushing
    from windmaker.workspace import open_warehouse

    warmup = s.warmup_periods if warmup_periods is None else warmup_periods
    files = root / "files"
    with open_warehouse(load_settings(root / "ws")) as wh:
        stages = wh.execute(wh.table(G_STAGE))
        bott = wh.table(G_BOTTLENECK)
        bottlenecks = wh.execute(bott.filter(bott["rank"] == 1))
        unjudged = wh.execute(wh.table(G_UNJUDGED))
        flagged = wh.execute(wh.table(BRUSHING_ORDERS))
        o = wh.table("orders")
        per_brand = wh.execute(o.group_by("brand_id").aggregate(n=o.count()))
    truth = pd.read_parquet(files / "truth" / "brand_month.parquet")
    rings_file = files / "truth" / "brushing_rings.parquet"
    rings = pd.read_parquet(rings_file) if rings_file.exists() else None
    figures = brushing.bar_figures(flagged, per_brand.set_index("brand_id")["n"], rings)
    return Judgement(
        shape=s.name,
        brands=s.config.brands,
        months=s.config.months,
        orders=int(per_brand["n"].sum()),
        agreement=agreement(stages, bottlenecks, truth, warmup_periods=warmup),
        unjudged=len(unjudged),
        established_called_zero=_established_called_zero(stages, truth, files, warmup),
        brushing=dict(figures),
        seconds=seconds or {},
    )


def _established_called_zero(
    stages: pd.DataFrame, truth: pd.DataFrame, files: Path, warmup_periods: int
) -> int:
    """Judged brand-months of brands that joined before the data, diagnosed zero-breaking while
    their true stage is higher (the failure of judging history the data does not hold)."""
    from windmaker.growth.validation import judged_truth

    brands = pd.read_parquet(files / "brands.parquet", columns=["brand_id", "joined_at"])
    s = stages[["brand_id", "period", "stage"]].copy()
    s["period"] = pd.to_datetime(s["period"]).astype("datetime64[s]")
    t = judged_truth(truth, s, warmup_periods, settle_periods=3)
    j = t.merge(s, on=["brand_id", "period"]).merge(brands, on="brand_id")
    early = pd.to_datetime(j["joined_at"]) < pd.to_datetime(truth["month"]).min()
    wrong = (j["stage"] == "zero_breaking") & (j["true_stage"] != "zero_breaking")
    return int((early & wrong).sum())


def markdown(results: list[Judgement]) -> str:
    """The table of agreements per shape (BENCHMARKS.md)."""
    stages = ("zero_breaking", "climbing", "ka", "ska")
    head = (
        "| shape | brands × months | orders | judged | stage | "
        + " | ".join(f"stage: {s}" for s in stages)
        + " | bottleneck | unjudged | established called zero-breaking | flagged orders"
        + " | max brand flagged |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        a = r.agreement
        per = [
            f"{a.stage_by_true_stage[s]:.1%}" if s in a.stage_by_true_stage else "–" for s in stages
        ]
        b = r.brushing
        lines.append(
            f"| {r.shape} | {r.brands} × {r.months} | {r.orders:,} | {a.judged:,} | "
            f"**{a.stage:.1%}** | "
            + " | ".join(per)
            + f" | **{a.bottleneck:.1%}** | {r.unjudged:,} | {r.established_called_zero} | "
            f"{b.get('flagged_share', 0):.3%} | "
            f"{b.get('max_brand_share', 0):.2%} |"
        )
    rings = [r for r in results if any(k.endswith("_recall") for k in r.brushing)]
    if rings:
        lines += ["", "| shape | ring kind | buyers P / R | shops P / R |", "|---|---|---|---|"]
        for r in rings:
            b = r.brushing
            kinds = sorted(
                k.removesuffix("_buyer_recall") for k in b if k.endswith("_buyer_recall")
            )
            for kind in kinds:
                lines.append(
                    f"| {r.shape} | {kind} | {b[f'{kind}_buyer_precision']:.2f} / "
                    f"{b[f'{kind}_buyer_recall']:.2f} | {b[f'{kind}_shop_precision']:.2f} / "
                    f"{b[f'{kind}_shop_recall']:.2f} |"
                )
    return "\n".join(lines)
