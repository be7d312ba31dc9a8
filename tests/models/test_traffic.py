"""Paid-traffic response curves and budget recommendations, validated on planted responses.

Series are generated in the test from known adstock/saturation parameters (the same functional
form as the model); the fit must recover them, and the recommended budget must beat the current
allocation on the *true* curves.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from windmaker.models import traffic
from windmaker.warehouse import Warehouse

CFG = traffic.TrafficConfig(adstock_max_lag_days=14, min_spend_days=30)


def spend_pattern(days: int, mean: float, seed: int) -> np.ndarray:
    """Bursty daily spend: campaigns of varying level that switch on and off, as brands buy."""
    rng = np.random.default_rng(seed)
    level = np.repeat(rng.choice([0.0, 0.3, 1.0, 2.0, 3.5], size=days // 7 + 1), 7)[:days]
    return mean * level * rng.lognormal(0, 0.25, days)


TRUE = {
    "b_fast": traffic.ResponseCurve(alpha=0.2, lam=1 / 4000, beta=30000.0, l_max=14),
    "b_slow": traffic.ResponseCurve(alpha=0.6, lam=1 / 9000, beta=20000.0, l_max=14),
    "b_sat": traffic.ResponseCurve(alpha=0.4, lam=1 / 1500, beta=8000.0, l_max=14),
    "b_lin": traffic.ResponseCurve(alpha=0.3, lam=1 / 30000, beta=90000.0, l_max=14),
}
MEAN_SPEND = {"b_fast": 3000.0, "b_slow": 2500.0, "b_sat": 2000.0, "b_lin": 1500.0}


@pytest.fixture(scope="module")
def fitted() -> dict[str, traffic.ResponseCurve]:
    out = {}
    for k, (brand, curve) in enumerate(TRUE.items()):
        spend = spend_pattern(180, MEAN_SPEND[brand], seed=k)
        gmv = traffic.simulate_series(curve, spend, noise_sd=0.05 * curve.beta / 2, seed=100 + k)
        out[brand] = traffic.fit_response(spend, gmv, CFG)
    return out


def test_fit_recovers_planted_adstock_and_saturation(
    fitted: dict[str, traffic.ResponseCurve],
) -> None:
    """Tolerance: adstock α within 0.1 (absolute); the curve's GMV within 10% of the truth over
    the spend range seen (0.5x to 3x the mean spend); λ and β within 30% on brands whose spend
    reaches saturation (λ k s > 1). Hit rate: every brand."""
    for brand, truth in TRUE.items():
        fit = fitted[brand]
        assert fit.converged
        assert fit.alpha == pytest.approx(truth.alpha, abs=0.1), brand
        grid = MEAN_SPEND[brand] * np.linspace(0.5, 3.0, 6)
        np.testing.assert_allclose(fit.gmv(grid), truth.gmv(grid), rtol=0.10, err_msg=brand)
        if truth.lam * truth.carryover * MEAN_SPEND[brand] * 3 > 1:
            assert fit.lam == pytest.approx(truth.lam, rel=0.3), brand
            assert fit.beta == pytest.approx(truth.beta, rel=0.3), brand
        assert fit.r2 > 0.8


def test_marginal_roas_and_break_even_spend_closed_forms() -> None:
    curve = TRUE["b_sat"]
    s = np.array([0.0, 500.0, 2000.0, 8000.0])
    h = 1e-3
    numeric = (curve.gmv(s + h) - curve.gmv(np.maximum(s - h, 0))) / (s + h - np.maximum(s - h, 0))
    np.testing.assert_allclose(curve.marginal_roas(s), numeric, rtol=1e-5)
    be = float(curve.spend_at_marginal_roas(CFG.break_even_roas))
    assert be > 0
    assert float(curve.marginal_roas(be)) == pytest.approx(CFG.break_even_roas, rel=1e-9)
    # A brand whose first yuan does not pay back gets a break-even spend of zero.
    weak = traffic.ResponseCurve(alpha=0.0, lam=1 / 1000, beta=1000.0, l_max=1)
    assert weak.max_marginal_roas < CFG.break_even_roas
    assert float(weak.spend_at_marginal_roas(CFG.break_even_roas)) == 0.0


def test_budget_beats_current_allocation_on_the_true_response(
    fitted: dict[str, traffic.ResponseCurve],
) -> None:
    current = {"b_fast": 1000.0, "b_slow": 6000.0, "b_sat": 5000.0, "b_lin": 1000.0}
    total = sum(current.values())
    lower = {b: 0.25 * v for b, v in current.items()}
    upper = {b: 3.0 * v for b, v in current.items()}
    rec = traffic.allocate_budget(fitted, total, lower=lower, upper=upper)
    assert sum(rec.spend.values()) == pytest.approx(total, rel=1e-9)
    for b in current:
        assert lower[b] - 1e-6 <= rec.spend[b] <= upper[b] + 1e-6
    gain = traffic.total_gmv(TRUE, rec.spend) / traffic.total_gmv(TRUE, current) - 1
    assert gain > 0.05
    # Optimal on its own curves: no feasible random reallocation of the same total does better.
    rng = np.random.default_rng(0)
    best = traffic.total_gmv(fitted, rec.spend)
    names = sorted(current)
    for _ in range(300):
        w = rng.dirichlet(np.ones(len(names)))
        trial = {
            b: float(np.clip(total * wi, lower[b], upper[b]))
            for b, wi in zip(names, w, strict=True)
        }
        if abs(sum(trial.values()) - total) < 1e-6 * total:
            assert traffic.total_gmv(fitted, trial) <= best + 1e-6


def test_equal_marginal_roas_at_an_interior_optimum() -> None:
    curves = {k: TRUE[k] for k in ("b_fast", "b_slow", "b_sat")}
    rec = traffic.allocate_budget(curves, 9000.0)
    m = [float(curves[b].marginal_roas(rec.spend[b])) for b in curves]
    assert max(m) == pytest.approx(min(m), rel=1e-6)


def test_daily_paid_and_market_fit_through_the_warehouse() -> None:
    """Paid GMV counts only paid-traffic, non-cancelled orders, net of refunds."""
    start = date(2026, 1, 1)
    days = 120
    curve = TRUE["b_sat"]
    spend = spend_pattern(days, 2000.0, seed=7)
    gmv = traffic.simulate_series(curve, spend, noise_sd=100.0, seed=8)
    orders, ads = [], []
    for d in range(days):
        day = datetime.combine(start + timedelta(days=d), datetime.min.time())
        ads.append(
            {
                "date": (start + timedelta(days=d)),
                "brand_id": "b1",
                "campaign_id": "c1",
                "account_id": "a1",
                "spend": Decimal(f"{spend[d] / 2:.2f}"),
                "impressions": 0,
                "clicks": 0,
            }
        )
        ads.append({**ads[-1], "campaign_id": "c2"})
        base = {
            "brand_id": "b1",
            "sku_id": "s",
            "account_id": "a1",
            "session_id": None,
            "buyer_id": "u",
            "quantity": 1,
            "commission": Decimal("0"),
            "refunded_at": pd.NaT,
            "promised_ship_by": pd.NaT,
            "shipped_at": pd.NaT,
        }
        orders += [
            {
                **base,
                "paid_at": day + timedelta(hours=9),
                "traffic_source": "paid",
                "amount": Decimal(f"{gmv[d] + 10:.2f}"),
                "status": "completed",
                "refund_amount": Decimal("10.00"),
            },
            {
                **base,
                "paid_at": day + timedelta(hours=10),
                "traffic_source": "paid",
                "amount": Decimal("999.00"),
                "status": "cancelled",
                "refund_amount": Decimal("0"),
            },
            {
                **base,
                "paid_at": day + timedelta(hours=11),
                "traffic_source": "recommend",
                "amount": Decimal("500.00"),
                "status": "completed",
                "refund_amount": Decimal("0"),
            },
        ]
    odf = pd.DataFrame(orders)
    odf["order_id"] = [f"o{i}" for i in range(len(odf))]
    wh = Warehouse("duckdb://")
    wh.ensure_source_tables()
    wh.insert("orders", odf)
    wh.insert("ad_spend", pd.DataFrame(ads))
    end = start + timedelta(days=days - 1)
    daily = wh.execute(
        traffic.daily_paid(wh.table("orders"), wh.table("ad_spend"), start=start, end=end)
    )
    wh.close()
    daily = daily.sort_values("date").reset_index(drop=True)
    np.testing.assert_allclose(daily["paid_gmv"].astype(float), np.round(gmv, 2), atol=0.011)
    np.testing.assert_allclose(daily["spend"].astype(float), spend, atol=0.011)
    brands = pd.DataFrame({"brand_id": ["b1"], "category": ["beauty"]})
    table, curves = traffic.fit_market(daily, brands, CFG, start=start, end=end)
    row = table.iloc[0]
    assert row["adstock_alpha"] == pytest.approx(curve.alpha, abs=0.1)
    assert row["break_even_spend"] == pytest.approx(
        float(curve.spend_at_marginal_roas(CFG.break_even_roas)), rel=0.2
    )
    recent = slice(days - CFG.current_window_days, days)
    assert row["roas_observed"] == pytest.approx(
        np.round(gmv, 2)[recent].sum() / spend[recent].sum(), rel=1e-3
    )
    budget = traffic.recommend_budgets(table, curves, CFG)
    assert budget["recommended_spend"].sum() == pytest.approx(budget["current_spend"].sum())
