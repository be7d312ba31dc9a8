"""Diagnose every brand: read the metric tables (and fitted models), store the ``g_*`` tables."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from windmaker import contract
from windmaker.growth import diagnosis as dx
from windmaker.growth.model_feed import (
    ModelFeed,
    clv_expression,
    feed_from_frames,
    score_expressions,
    traffic_expression,
)
from windmaker.results import (
    BRAND_MONTH,
    CAPABILITY,
    CLV_BRAND,
    CLV_BUYERS,
    MODEL_SCORES,
    TRAFFIC_CURVES,
    TRUST_ALERTS,
)
from windmaker.services.configs import Configs
from windmaker.warehouse import Warehouse


def run_diagnosis(
    wh: Warehouse, configs: Configs, progress: Any = None
) -> tuple[dx.Diagnosis, dict[str, float]]:
    """Read the metric tables, diagnose every brand, store the ``g_*`` tables.

    ``configs`` gives ``ladder.yaml``, ``playbook.yaml`` and, for the model-blended scores,
    ``metrics.yaml`` (the index rounding). Returns the diagnosis and the seconds of each step
    (read, diagnose, store).
    """
    config, playbook = configs.ladder, configs.playbook
    step = progress or (lambda _s: None)
    seconds: dict[str, float] = {}
    clock = perf_counter()
    step("read")
    bm_expr, cap_expr = dx.input_expressions(
        wh.table(BRAND_MONTH), wh.table(CAPABILITY), wh.table(contract.BRANDS.name)
    )
    brand_month = wh.execute(bm_expr)
    capability = wh.execute(cap_expr)
    alerts = None
    if wh.has_table(TRUST_ALERTS):
        t = wh.table(TRUST_ALERTS)
        cols = [c for c in ("brand_id", "period") if c in t.columns]
        if "brand_id" in cols:
            alerts = wh.execute(t.select(cols).distinct())
    models = read_models(wh, configs)
    seconds["read"] = perf_counter() - clock
    clock = perf_counter()
    step("diagnose")
    result = dx.diagnose(brand_month, capability, config, playbook, alerts, models)
    seconds["diagnose"] = perf_counter() - clock
    clock = perf_counter()
    step("store")
    tables = dx.result_tables(result)
    for name, table in tables.items():
        wh.write(name, table)
    if MODEL_SCORES not in tables and wh.has_table(MODEL_SCORES):
        # the models were dropped since the last run: no stale blended scores
        wh.drop(MODEL_SCORES)
    seconds["store"] = perf_counter() - clock
    return result, seconds


def read_models(wh: Warehouse, configs: Configs) -> ModelFeed | None:
    """The fitted lifetime-value and traffic-curve figures, or None when none are stored.

    Lifetime value needs both ``mdl_clv_brand`` and ``mdl_clv_buyers``; either model may be
    missing. ``ladder.yaml`` without a ``models`` section reads nothing. The feed comes back
    scored: the model components and the re-ranked ``g_model_scores`` rows (the blended index
    rounded to ``metrics.yaml`` → ``benchmark.index_decimals`` before it is ranked), executed
    here from :func:`windmaker.growth.model_feed.score_expressions` over ``m_capability``. The
    traffic curves' ``log_roas_ratio`` is executed here too, once, for the T component and the
    spend actions alike.
    """
    rules = configs.ladder.models
    if rules is None:
        return None
    clv = traffic = None
    if wh.has_table(CLV_BRAND) and wh.has_table(CLV_BUYERS):
        clv = wh.execute(clv_expression(rules, wh.table(CLV_BRAND), wh.table(CLV_BUYERS)))
    if wh.has_table(TRAFFIC_CURVES):
        traffic = wh.execute(traffic_expression(rules, wh.table(TRAFFIC_CURVES)))
    if clv is None and traffic is None:
        return None
    feed = feed_from_frames(clv, traffic)
    decimals = configs.metrics.benchmark.index_decimals
    exprs = score_expressions(rules, wh.table(CAPABILITY), feed, index_decimals=decimals)
    if exprs is None:
        return feed.scored(None, None)
    return feed.scored(wh.execute(exprs[0]), wh.execute(exprs[1]))
