"""The windmaker plan's resources: allocation speed at 500 providers × 12 periods and quality on
the planted market (:mod:`windmaker.simulator.plan_response`).

Per seed, on a planted market of 500 providers and a 12-month plan (funds and traffic budgets
per month), measured in the same run:

- **allocation**: estimates from the evaluation history, then the MILP (SCIP, tier binaries)
  with its reasons, end to end (target < 30 s); the in-run references are the same allocation
  without the tier bonus (an LP, GLOP), the GMV-proportional split (a rule of thumb with the
  same caps) and the MILP built with a column per segment (no pooling, first seed only);
- **quality**: the true uplift of each allocation on the planted rates and response shape,
  as a ratio to the equal split and to the GMV-proportional split (target > 1 for both);
- **forecast**: the year-end tier counts' Monte Carlo (2,000 draws) and whether its 80 %
  interval holds the simulated year-end count of each tier.

``WINDMAKER_BENCH_ALLOCATION_SEEDS`` (default 3) sets how many seeds run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from windmaker.codes import ACTIVE_PROVIDER_STATUSES
from windmaker.ecosystem import allocation as A
from windmaker.ecosystem.allocation_estimate import histories_from_frames
from windmaker.ecosystem.allocation_forecast import forecast_tiers
from windmaker.ecosystem.config import load_config
from windmaker.simulator import plan_response as PR

PROVIDERS, PERIODS = 500, 12


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _seed(seed: int, full_reference: bool) -> dict[str, Any]:
    config = load_config()
    cfg, tiers = config.allocation, config.tiers
    market = PR.plan_market(PROVIDERS, PERIODS, seed=seed)
    budget = A.PlanBudget(market.periods, market.funds_budget, market.traffic_budget)

    def run(c: Any = cfg) -> tuple[A.AllocationResult, tuple[A.ProviderEstimate, ...]]:
        ests = A.estimate_providers(
            histories_from_frames(market.providers, market.evaluations), market.periods, c
        )
        return A.allocate(ests, budget, tiers, c), ests

    (result, ests), t_alloc = _timed(run)
    (lp, _), t_lp = _timed(lambda: run(cfg.model_copy(update={"tier_bonus": {}})))
    gmv, t_gmv = _timed(lambda: A.split_allocation(ests, budget, tiers, cfg, rule="gmv"))
    equal = A.split_allocation(ests, budget, tiers, cfg, rule="equal")
    t_full, full_objective = float("nan"), float("nan")
    if full_reference:
        pooled = A.POOL_COLUMNS
        A.POOL_COLUMNS = 10**9
        try:
            (full, _), t_full = _timed(run)
            full_objective = full.objective
        finally:
            A.POOL_COLUMNS = pooled

    def true(r: A.AllocationResult) -> float:
        return float(PR.true_uplift(market, r.matrix("funds"), r.matrix("traffic")).sum())

    funds, traffic = result.matrix("funds"), result.matrix("traffic")
    forecast, t_forecast = _timed(lambda: forecast_tiers(ests, funds, traffic, tiers, cfg))
    lines = {t.code: t.min_annual_gmv_served for t in tiers}
    counted = tuple(str(s) for s in ACTIVE_PROVIDER_STATUSES)
    outcome = PR.tier_counts(
        PR.simulate_year_end(market, funds, traffic, seed), market.status, lines, counted
    )
    return {
        "seed": seed,
        "status": f"{result.status} ({result.solver}, gap {result.gap:.2e})",
        "crossings": len(result.crossings),
        "t_alloc": t_alloc,
        "t_solve": result.solve_seconds,
        "t_lp": t_lp,
        "t_gmv": t_gmv,
        "t_full": t_full,
        "full_ratio": result.objective / full_objective,
        "vs_equal": true(result) / true(equal),
        "vs_gmv": true(result) / true(gmv),
        "lp_vs_gmv": true(lp) / true(gmv),
        "t_forecast": t_forecast,
        "forecast": {
            tf.code: (tf.with_plan, tf.without_plan.mean, outcome[tf.code]) for tf in forecast.tiers
        },
    }


def main() -> str:
    seeds = int(os.environ.get("WINDMAKER_BENCH_ALLOCATION_SEEDS", "3"))
    rows = [_seed(seed, full_reference=seed == 0) for seed in range(seeds)]
    out = [
        f"Planted market: {PROVIDERS} providers × {PERIODS} periods (funds and traffic), "
        f"seeds 0–{seeds - 1}; {os.getloadavg()[0]:.1f} runnable processes on "
        f"{os.cpu_count()} cores.",
        "",
        "| seed | MILP status | tiers crossed | allocation s (solve s) | LP (no tier bonus) s "
        "| GMV split s | unpooled MILP s (objective ratio) | ratio to LP time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        full = f"{r['t_full']:.2f} ({r['full_ratio']:.5f})" if np.isfinite(r["t_full"]) else "–"
        out.append(
            f"| {r['seed']} | {r['status']} | {r['crossings']} | {r['t_alloc']:.2f} "
            f"({r['t_solve']:.2f}) | {r['t_lp']:.2f} | {r['t_gmv']:.2f} | {full} "
            f"| {r['t_alloc'] / r['t_lp']:.1f}× |"
        )
    worst = max(r["t_alloc"] for r in rows)
    out += [
        "",
        f"Target: 500 × 12 under 30 s — {'met' if worst < 30 else 'NOT met'} "
        f"(slowest {worst:.2f} s).",
        "",
        "| seed | true uplift vs equal split | vs GMV-proportional split | LP (no tier bonus) "
        "vs GMV split |",
        "|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['seed']} | {r['vs_equal']:.3f}× | {r['vs_gmv']:.3f}× | {r['lp_vs_gmv']:.3f}× |"
        )
    out += [
        "",
        "| seed | tier | year-end with the plan: mean [80 % interval] | without: mean "
        "| simulated | covered | forecast s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for code, (w, without_mean, got) in r["forecast"].items():
            out.append(
                f"| {r['seed']} | {code} | {w.mean:.1f} [{w.low}, {w.high}] | "
                f"{without_mean:.1f} | {got} | {'yes' if w.low <= got <= w.high else 'no'} "
                f"| {r['t_forecast']:.2f} |"
            )
    return "\n".join(["## Plan resources: allocation and tier forecast", "", *out])


if __name__ == "__main__":  # pragma: no cover
    print(main())
