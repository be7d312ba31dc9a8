"""The main job after new data arrives: brushing → metrics → trust → [models] → diagnosis.

Brushing runs first so the metrics can leave suspected brushing orders out of GMV; trust scores
come after the metrics so the ladder's portfolio can raise trust alerts; with ``models`` the
lifetime-value and paid-traffic models are refitted before the diagnosis, which reads all of it
(fitted models enrich the P and T scores and add model-backed actions; without ``models`` the
diagnosis reads whatever model tables an earlier fit stored). The CLI (``windmaker run``), the
API's refresh job and the demo all call this one function.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from windmaker.config import Settings
from windmaker.metrics.refresh import refresh
from windmaker.services.configs import Configs
from windmaker.workspace import open_warehouse

STEPS = ("brushing", "metrics", "trust", "diagnosis")
#: The steps with ``models=True``: the models are fitted on the refreshed data, before diagnosis.
STEPS_WITH_MODELS = ("brushing", "metrics", "trust", "models", "diagnosis")

Progress = Callable[[float, str], None]


def run_pipeline(
    settings: Settings,
    *,
    progress: Progress | None = None,
    warehouse_factory: Callable[[], Any] | None = None,
    full: bool = False,
    models: bool = False,
    configs: Configs | None = None,
) -> dict[str, Any]:
    """Run every step on the workspace's warehouse; returns seconds per step and what was stored.

    ``progress(fraction, step)`` is called as each step starts. Configuration files are loaded
    (and validated) before anything is computed, so a bad file stops the job before it writes.
    ``models`` adds the ``models`` step (lifetime value and paid-traffic curves, the slowest
    step), so the diagnosis reads models fitted on the same data.
    """
    from windmaker.services.diagnose import run_diagnosis
    from windmaker.services.trust import run_brushing, run_scores

    report = progress or (lambda _f, _s: None)
    steps = STEPS_WITH_MODELS if models else STEPS
    cfg = (configs or Configs.of(settings)).check(
        ("trust", "metrics", "ladder", "playbook", *(("models",) if models else ()))
    )

    seconds: dict[str, float] = {}
    out: dict[str, Any] = {"seconds": seconds}
    factory = warehouse_factory or (lambda: open_warehouse(settings))
    with factory() as wh:
        if int(wh.execute(wh.table("orders").count())) == 0:
            out["skipped"] = "no orders in the warehouse: ingest some first"
            report(1.0, "done")
            return out
        for i, step in enumerate(steps):
            report(i / len(steps), step)
            clock = perf_counter()
            if step == "brushing":
                out["brushing_orders"] = len(run_brushing(wh, cfg.trust).flagged)
            elif step == "metrics":
                out["metrics"] = refresh(
                    wh,
                    full=full,
                    config=cfg.metrics,
                    exclude_brushing=settings.exclude_brushing_from_gmv,
                ).mode
            elif step == "trust":
                out["trust_scores"] = len(run_scores(wh, cfg.trust))
            elif step == "models":
                from windmaker.services.models import fit_models

                out["models"] = fit_models(wh, cfg.models)
            else:
                result, _ = run_diagnosis(wh, cfg.ladder, cfg.playbook)
                out["brands"] = int(result.stages["brand_id"].nunique())
            seconds[step] = round(perf_counter() - clock, 3)
    report(1.0, "done")
    return out
