"""The main job after new data arrives: brushing → metrics → trust → [models] → diagnosis.

Brushing runs first so the metrics can leave suspected brushing orders out of GMV; trust scores
come after the metrics so the ladder's portfolio can raise trust alerts; with ``models`` the
lifetime-value and paid-traffic models are refitted before the diagnosis, which reads all of it
(fitted models enrich the P and T scores and add model-backed actions; without ``models`` the
diagnosis reads whatever model tables an earlier fit stored). The CLI (``windmaker run``), the
server's refresh job and the demo all call :func:`run_pipeline`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from time import perf_counter
from typing import Any

from windmaker import contract
from windmaker.config import Settings
from windmaker.services.configs import Configs
from windmaker.services.diagnose import run_diagnosis
from windmaker.services.errors import ServiceError, forbidden
from windmaker.services.identity import Principal
from windmaker.services.jobs import Job, Jobs
from windmaker.services.refresh import refresh
from windmaker.services.trust import run_brushing, run_scores
from windmaker.warehouse import Warehouse, faults
from windmaker.warehouse.words import engine_words, out_of_memory
from windmaker.workspace import open_warehouse

STEPS = ("brushing", "metrics", "trust", "diagnosis")
#: The steps with ``models=True``: the models are fitted on the refreshed data, before diagnosis.
STEPS_WITH_MODELS = ("brushing", "metrics", "trust", "models", "diagnosis")
#: The roles that may start the main job from the API or the dashboard.
RUNNER_ROLES = ("admin", "operator")
#: The job kind of the main job in :class:`Jobs`.
JOB_KIND = "refresh"

Progress = Callable[[float, str], None]
WarehouseFactory = Callable[[], Warehouse]


@dataclass(frozen=True)
class FittedModels:
    """What the ``models`` step fitted: brands with a lifetime-value fit, traffic curves."""

    clv_brands: int
    traffic_curves: int
    #: The models whose stored fit was kept: made from the same data and settings.
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult:
    """What the main job did: seconds per step and what each step stored.

    ``skipped`` says why nothing ran (an empty warehouse); ``metrics`` is the refresh's mode
    (``full``, ``incremental``, ``up_to_date``) and ``brushing`` the detection's (``full``, or
    ``incremental``: only the new windows' buyers paired); ``models`` is set when the models
    were fitted.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None
    brushing_orders: int | None = None
    brushing: str | None = None
    metrics: str | None = None
    trust_scores: int | None = None
    models: FittedModels | None = None
    brands: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The record as plain JSON-ready values, the steps that did not run left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def run_pipeline(
    settings: Settings,
    configs: Configs | None = None,
    *,
    progress: Progress | None = None,
    warehouse_factory: WarehouseFactory | None = None,
    full: bool = False,
    models: bool = False,
) -> RunResult:
    """Run every step on the workspace's warehouse; returns seconds per step and what was stored.

    ``progress(fraction, step)`` is called as each step starts. Configuration files are loaded
    (and validated) before anything is computed, so a bad file stops the job before it writes.
    ``models`` adds the ``models`` step (lifetime value and paid-traffic curves, the slowest
    step), so the diagnosis reads models fitted on the same data.
    """
    report = progress or (lambda _f, _s: None)
    steps = STEPS_WITH_MODELS if models else STEPS
    cfg = (configs or Configs.of(settings)).check(
        ("trust", "metrics", "ladder", "playbook", *(("models",) if models else ()))
    )

    seconds: dict[str, float] = {}
    out: dict[str, Any] = {}
    factory = warehouse_factory or (lambda: open_warehouse(settings))
    with factory() as wh:
        if int(wh.execute(wh.table(contract.ORDERS.name).count())) == 0:
            report(1.0, "done")
            return RunResult(skipped="no orders in the warehouse: ingest some first")
        # One transaction: readers see the last complete run or this one, never a mix, and a
        # run killed part-way leaves the warehouse (its refresh bookkeeping included) as the
        # last complete run left it.
        current = steps[0]
        try:
            with wh.atomic():
                for i, step in enumerate(steps):
                    current = step
                    report(i / len(steps), step)
                    clock = perf_counter()
                    if step == "brushing":
                        detected = run_brushing(wh, cfg.trust, full=full)
                        out["brushing_orders"] = len(detected.report.flagged)
                        out["brushing"] = detected.mode
                    elif step == "metrics":
                        out["metrics"] = refresh(
                            wh, cfg, full=full, exclude_brushing=settings.exclude_brushing_from_gmv
                        ).mode
                    elif step == "trust":
                        out["trust_scores"] = len(run_scores(wh, cfg.trust, full=full))
                    elif step == "models":
                        from windmaker.services.models import fit_models

                        out["models"] = FittedModels(**fit_models(wh, cfg.models))
                    else:
                        result, _ = run_diagnosis(wh, cfg)
                        out["brands"] = int(result.stages["brand_id"].nunique())
                    seconds[step] = round(perf_counter() - clock, 3)
                    faults.reach(f"run.{step}")
        except Exception as exc:
            # The engine's message stays in the log; the user learns what to change.
            if out_of_memory(exc):
                raise ServiceError(
                    "out_of_memory", 507, reason=f"at the {current} step: {engine_words(exc)}"
                ) from exc
            raise
    report(1.0, "done")
    return RunResult(seconds=seconds, **out)


def start_run(
    jobs: Jobs,
    settings: Settings,
    actor: Principal,
    *,
    configs: Configs | None = None,
    warehouse_factory: WarehouseFactory | None = None,
    after: Callable[[], None] | None = None,
) -> Job:
    """Start the main job in the background for ``actor`` (staff only), or return the running
    one; ``after`` runs once it has stored its tables (the server reloads its read model)."""
    if actor.role not in RUNNER_ROLES:
        raise forbidden()

    def work(progress: Progress) -> dict[str, Any]:
        result = run_pipeline(
            settings, configs, progress=progress, warehouse_factory=warehouse_factory
        )
        if after is not None:
            after()
        return result.as_dict()

    return jobs.start(JOB_KIND, work, owner=actor)
