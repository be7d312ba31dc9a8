"""The main job after new data arrives: brushing → metrics → trust → diagnosis.

Brushing runs first so the metrics can leave suspected brushing orders out of GMV; trust scores
come after the metrics so the ladder's portfolio can raise trust alerts; the diagnosis reads all
of it. The CLI (``windmaker run``), the API's refresh job and the demo all call this one function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

from windmaker.config import Settings
from windmaker.growth.config import load_ladder_config
from windmaker.growth.plan import load_playbook
from windmaker.metrics.config import load_metrics_config
from windmaker.metrics.refresh import refresh
from windmaker.models import trust
from windmaker.workspace import open_warehouse

STEPS = ("brushing", "metrics", "trust", "diagnosis")

Progress = Callable[[float, str], None]


def run_pipeline(
    settings: Settings,
    *,
    progress: Progress | None = None,
    warehouse_factory: Callable[[], Any] | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """Run every step on the workspace's warehouse; returns seconds per step and what was stored.

    ``progress(fraction, step)`` is called as each step starts. Configuration files are loaded
    (and validated) before anything is computed, so a bad file stops the job before it writes.
    """
    from windmaker.cli.diagnose import run_diagnosis
    from windmaker.cli.trust import run_brushing, run_scores

    report = progress or (lambda _f, _s: None)
    folder: Path | None = settings.path(settings.config_dir) if settings.config_dir else None
    trust_config = trust.load_config(folder)
    metrics_config = load_metrics_config(folder)
    ladder, playbook = load_ladder_config(folder), load_playbook(folder)

    seconds: dict[str, float] = {}
    out: dict[str, Any] = {"seconds": seconds}
    factory = warehouse_factory or (lambda: open_warehouse(settings))
    with factory() as wh:
        if int(wh.execute(wh.table("orders").count())) == 0:
            out["skipped"] = "no orders in the warehouse: ingest some first"
            report(1.0, "done")
            return out
        for i, step in enumerate(STEPS):
            report(i / len(STEPS), step)
            clock = perf_counter()
            if step == "brushing":
                out["brushing_orders"] = len(run_brushing(wh, trust_config).flagged)
            elif step == "metrics":
                out["metrics"] = refresh(
                    wh,
                    full=full,
                    config=metrics_config,
                    exclude_brushing=settings.exclude_brushing_from_gmv,
                ).mode
            elif step == "trust":
                out["trust_scores"] = len(run_scores(wh, trust_config))
            else:
                result, _ = run_diagnosis(wh, ladder, playbook)
                out["brands"] = int(result.stages["brand_id"].nunique())
            seconds[step] = round(perf_counter() - clock, 3)
    report(1.0, "done")
    return out
