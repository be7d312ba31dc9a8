"""The year-end tier forecast of an allocation against the planted market's simulated outcome.

Known answer: planted simulator truth (:mod:`windmaker.simulator.plan_response`). On each of 20
seeds a 100-provider market is estimated from its evaluation history, allocated, forecast, and
its year-end simulated on the planted rates, the planted response shape and fresh GMV noise;
the forecast's 80 % interval of the providers at or above each tier line must hold the
simulated count in at least 75 % of the seeds, with the plan and without it (measured: 95 %
and 85 % for ¥1亿, 90 % and 90 % for ¥10亿).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from windmaker.codes import ACTIVE_PROVIDER_STATUSES
from windmaker.ecosystem import allocation as A
from windmaker.ecosystem.allocation_estimate import histories_from_frames
from windmaker.ecosystem.allocation_forecast import forecast_tiers, to_clients, year_end_draws
from windmaker.ecosystem.config import EcosystemConfig
from windmaker.simulator import plan_response as PR

SEEDS = range(20)


def test_interval_covers_the_simulated_year_end(config: EcosystemConfig) -> None:
    """Planted truth: coverage of the 80 % interval over 20 seeds is at least 75 %."""
    cfg = config.allocation.model_copy(update={"forecast_draws": 1000})
    lines = {t.code: t.min_annual_gmv_served for t in config.tiers}
    counted = tuple(str(s) for s in ACTIVE_PROVIDER_STATUSES)
    covered: dict[tuple[str, str], list[bool]] = {}
    moved = 0
    for seed in SEEDS:
        market = PR.plan_market(100, 12, seed=seed)
        ests = A.estimate_providers(
            histories_from_frames(market.providers, market.evaluations), market.periods, cfg
        )
        budget = A.PlanBudget(market.periods, market.funds_budget, market.traffic_budget)
        result = A.allocate(ests, budget, config.tiers, cfg)
        funds, traffic = result.matrix("funds"), result.matrix("traffic")
        forecast = forecast_tiers(ests, funds, traffic, config.tiers, cfg)
        outcome = {
            "with": PR.tier_counts(
                PR.simulate_year_end(market, funds, traffic, seed), market.status, lines, counted
            ),
            "without": PR.tier_counts(
                PR.simulate_year_end(market, 0 * funds, 0 * traffic, seed),
                market.status,
                lines,
                counted,
            ),
        }
        for tier in forecast.tiers:
            for case, interval in (("with", tier.with_plan), ("without", tier.without_plan)):
                got = outcome[case][tier.code]
                covered.setdefault((tier.code, case), []).append(
                    interval.low <= got <= interval.high
                )
            moved += tier.with_plan.mean > tier.without_plan.mean
    rates = {k: float(np.mean(v)) for k, v in covered.items()}
    assert all(rate >= 0.75 for rate in rates.values()), rates
    assert moved >= len(SEEDS)  # the plan lifts the expected count of some tier on every seed


def test_draws_with_the_plan_never_fall_below_without(config: EcosystemConfig) -> None:
    """The same draws serve both forecasts: a non-negative response only adds, and with no
    allocation the two are equal."""
    cfg = config.allocation.model_copy(update={"forecast_draws": 200})
    market = PR.plan_market(40, 6, seed=3)
    ests = A.estimate_providers(
        histories_from_frames(market.providers, market.evaluations), market.periods, cfg
    )
    budget = A.PlanBudget(market.periods, market.funds_budget, market.traffic_budget)
    result = A.allocate(ests, budget, config.tiers, cfg)
    funds, traffic = result.matrix("funds"), result.matrix("traffic")
    with_plan, without = year_end_draws(
        ests, funds, traffic, cfg, draws=200, rng=np.random.default_rng(0)
    )
    assert (with_plan >= without).all() and (with_plan > without).any()
    same, base = year_end_draws(
        ests, 0 * funds, 0 * traffic, cfg, draws=200, rng=np.random.default_rng(0)
    )
    np.testing.assert_allclose(same, base)
    # six plan months: the other six of the year-end window are the last evaluated ones
    observed = market.observed[:, -6:].sum(axis=1)
    assert np.array([e.window_observed for e in ests]) == pytest.approx(observed, rel=1e-6)
    forecast = forecast_tiers(ests, funds, traffic, config.tiers, cfg)
    for chance in forecast.chances:
        assert 0 <= chance.without_plan <= chance.with_plan <= 1


def test_planted_market_is_deterministic() -> None:
    """The planted market is a function of its seed (and another seed another market)."""
    a, b, c = (PR.plan_market(30, 6, seed=s) for s in (5, 5, 6))
    assert a.evaluations.equals(b.evaluations) and a.providers.equals(b.providers)
    assert not a.evaluations.equals(c.evaluations)
    funds = np.full((30, 6), 1e4)
    np.testing.assert_array_equal(
        PR.simulate_year_end(a, funds, funds * 500, 1),
        PR.simulate_year_end(b, funds, funds * 500, 1),
    )


def test_to_clients_passes_each_line_on_in_proportion_to_gmv(config: EcosystemConfig) -> None:
    """Hand computation: a provider's line split over its clients by their monthly GMV (equally
    when none has any); the client amounts add back up to the line."""
    market = PR.plan_market(12, 2, seed=1)
    ests = A.estimate_providers(
        histories_from_frames(market.providers, market.evaluations),
        market.periods,
        config.allocation,
    )
    budget = A.PlanBudget(market.periods, market.funds_budget, market.traffic_budget)
    result = A.allocate(ests, budget, config.tiers, config.allocation)
    funded = sorted({ln.provider_id for ln in result.lines if ln.funds > 0})
    a, b = funded[0], funded[1]
    clients = pd.DataFrame(
        {
            "provider_id": [a, a, a, b, b],
            "brand_id": ["B1", "B2", "B3", "B4", "B5"],
            "base_gmv": [1e6, 3e6, 0.0, 0.0, 0.0],
        }
    )
    out = to_clients(result, clients)
    line = next(ln for ln in result.lines if ln.provider_id == a)
    first = out[(out["provider_id"] == a) & (out["period"] == line.period)].set_index("brand_id")
    assert first["funds"].to_dict() == pytest.approx(
        {"B1": line.funds / 4, "B2": 3 * line.funds / 4, "B3": 0.0}
    )
    assert (out.loc[out["provider_id"] == b, "share"] == 0.5).all()
    total = out.groupby(["provider_id", "period"])[["funds", "traffic"]].sum()
    for ln in result.lines:
        if ln.provider_id in (a, b):
            assert total.loc[(ln.provider_id, ln.period), "funds"] == pytest.approx(ln.funds)
            assert total.loc[(ln.provider_id, ln.period), "traffic"] == pytest.approx(ln.traffic)
