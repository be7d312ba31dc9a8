"""Paid-traffic response curves and budget recommendations, validated on planted responses.

Series are generated in the test from known adstock/saturation parameters (the same functional
form as the model); the fit must recover them, and the recommended budget must beat the current
allocation on the *true* curves.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from windmaker.models import parallel, traffic
from windmaker.warehouse import Warehouse

CFG = traffic.TrafficConfig(adstock_max_lag_days=14, min_spend_days=30, saturation="logistic")


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


def _random_reallocations(
    names: list[str],
    total: float,
    lower: dict[str, float],
    upper: dict[str, float],
    *,
    seed: int,
    draws: int = 300,
) -> Iterator[dict[str, float]]:
    """Random splits of ``total`` (Dirichlet shares clipped to the bounds) that still sum to it."""
    rng = np.random.default_rng(seed)
    for _ in range(draws):
        w = rng.dirichlet(np.ones(len(names)))
        trial = {
            b: float(np.clip(total * wi, lower[b], upper[b]))
            for b, wi in zip(names, w, strict=True)
        }
        if abs(sum(trial.values()) - total) < 1e-6 * total:
            yield trial


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
    best = traffic.total_gmv(fitted, rec.spend)
    for trial in _random_reallocations(sorted(current), total, lower, upper, seed=0):
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


# -- planted truth of the market simulator ------------------------------------------------------
SIM_BRANDS, SIM_MONTHS, SIM_SEED, SIM_TOP = 80, 12, 0, 3


@pytest.fixture(scope="module")
def simulated_curves(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[pd.DataFrame, dict[str, traffic.HillCurve], dict[str, traffic.HillCurve], pd.DataFrame]:
    """The simulator's largest advertisers (by paid GMV): fitted Hill curves and planted ones.

    An 80-brand, 12-month market; only its ``SIM_TOP`` largest paid-traffic brands are fitted
    (the small ones get a handful of paid orders a day, noise the curve cannot see through).
    """
    from windmaker.simulator import MarketConfig, simulate

    out = tmp_path_factory.mktemp("sim_traffic")
    simulate(MarketConfig(brands=SIM_BRANDS, months=SIM_MONTHS, seed=SIM_SEED), out, fmt="parquet")
    orders = pd.read_parquet(out / "orders.parquet")
    ads = pd.read_parquet(out / "ad_spend.parquet")
    truth = pd.read_parquet(out / "truth" / "ad_response.parquet").set_index("brand_id")
    paid = orders[(orders["traffic_source"] == "paid") & (orders["status"] != "cancelled")]
    paid = paid.assign(date=paid["paid_at"].dt.date, net=paid["amount"] - paid["refund_amount"])
    gmv = paid.groupby(["brand_id", "date"], as_index=False).agg(paid_gmv=("net", "sum"))
    top = gmv.groupby("brand_id")["paid_gmv"].sum().astype(float).nlargest(SIM_TOP).index
    spend = ads.groupby(["brand_id", "date"], as_index=False).agg(spend=("spend", "sum"))
    daily = spend.merge(gmv, on=["brand_id", "date"], how="outer").fillna(0)
    daily = daily[daily["brand_id"].isin(top)]
    start, end = min(daily["date"]), max(daily["date"])
    brands = pd.DataFrame({"brand_id": list(top), "category": "all"})
    cfg = traffic.TrafficConfig(history_days=400)  # Hill saturation, the shipped default
    # fitted on two worker processes (the pool's threshold lowered to these few brands); the
    # test below checks the one-process fit gives the same curves
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parallel, "MIN_PER_WORKER", 1)
        table, fitted = traffic.fit_market(
            daily, brands, cfg.model_copy(update={"workers": 2}), start=start, end=end
        )
    POOLED_INPUTS["daily"], POOLED_INPUTS["brands"], POOLED_INPUTS["cfg"] = daily, brands, cfg
    POOLED_INPUTS["table"] = table
    planted = {
        b: traffic.HillCurve(
            alpha=float(truth.loc[b, "adstock_alpha"]),
            kappa=float(truth.loc[b, "saturation_k"]),
            shape=float(truth.loc[b, "hill_shape"]),
            beta=float(truth.loc[b, "beta"]),
            l_max=cfg.adstock_max_lag_days,
        )
        for b in top
    }
    return table, {b: cast_hill(c) for b, c in fitted.items()}, planted, truth


#: The simulated market's fit on two processes, for the one-process comparison.
POOLED_INPUTS: dict[str, Any] = {}


def test_curves_fitted_on_two_processes_equal_the_fit_in_one(
    simulated_curves: tuple[
        pd.DataFrame, dict[str, traffic.HillCurve], dict[str, traffic.HillCurve], pd.DataFrame
    ],
) -> None:
    """Brands' curves fitted by two spawned workers (``TrafficConfig.workers``) equal the curves
    fitted in this process, brand for brand."""
    d = POOLED_INPUTS
    start, end = min(d["daily"]["date"]), max(d["daily"]["date"])
    one, _ = traffic.fit_market(
        d["daily"], d["brands"], d["cfg"].model_copy(update={"workers": 1}), start=start, end=end
    )
    pd.testing.assert_frame_equal(one, d["table"], rtol=1e-9)


def cast_hill(curve: object) -> traffic.HillCurve:
    assert isinstance(curve, traffic.HillCurve)
    return curve


def test_hill_fit_recovers_the_simulators_planted_response(
    simulated_curves: tuple[
        pd.DataFrame, dict[str, traffic.HillCurve], dict[str, traffic.HillCurve], pd.DataFrame
    ],
) -> None:
    """Planted truth: ``truth/ad_response.parquet`` (normalised geometric adstock α, Hill K, S, β).

    Tolerance, on the 3 largest advertisers of the market: adstock α within 0.15 (absolute);
    half-saturation K within 35%; the steady-state curve g(s) within 25% of the true one over
    0.5–2 × K (the spend range brands run at). Hit rate: at least 2 of 3 brands on each check
    (the third-largest brand has about 3 paid orders a day). Seeds 0, 1, 2 gave 3/3, 2/3, 2/3
    on α, 3/3, 2/3, 3/3 on K and 3/3 on the curve (largest error 21%).
    """
    table, fitted, planted, _ = simulated_curves
    assert len(fitted) == SIM_TOP
    assert set(table["saturation"]) == {"hill"}
    alpha_hits = kappa_hits = curve_hits = 0
    for b, truth in planted.items():
        fit = fitted[b]
        alpha_hits += abs(fit.alpha - truth.alpha) <= 0.15
        kappa_hits += abs(fit.kappa / truth.kappa - 1) <= 0.35
        grid = truth.kappa * np.linspace(0.5, 2.0, 7)
        curve_hits += bool(np.all(np.abs(fit.gmv(grid) / truth.gmv(grid) - 1) <= 0.25))
    assert alpha_hits >= 2, alpha_hits
    assert kappa_hits >= 2, kappa_hits
    assert curve_hits >= 2, curve_hits


def test_budget_beats_current_allocation_on_the_simulators_true_curves(
    simulated_curves: tuple[
        pd.DataFrame, dict[str, traffic.HillCurve], dict[str, traffic.HillCurve], pd.DataFrame
    ],
) -> None:
    """The recommendation, made on the fitted (S-shaped) curves, earns more paid GMV than the
    current split of the same total on the planted curves (by more than 1%; seeds 0, 1, 2 gave
    4.7%, 2.4%, 3.7%), and is best on its own curves among random feasible splits (the envelope
    greedy solves the S-shaped problem)."""
    table, fitted, planted, _ = simulated_curves
    cfg = traffic.TrafficConfig()
    budget = traffic.recommend_budgets(table, fitted, cfg)
    current = dict(zip(budget["brand_id"], budget["current_spend"], strict=True))
    rec = dict(zip(budget["brand_id"], budget["recommended_spend"], strict=True))
    total = sum(current.values())
    assert sum(rec.values()) == pytest.approx(total, rel=1e-9)
    gain = traffic.total_gmv(planted, rec) / traffic.total_gmv(planted, current) - 1
    assert gain > 0.01, gain
    names = sorted(current)
    lower = {b: cfg.budget.min_ratio * current[b] for b in names}
    upper = {b: cfg.budget.max_ratio * current[b] for b in names}
    best = traffic.total_gmv(fitted, rec)
    for trial in _random_reallocations(names, total, lower, upper, seed=1):
        assert traffic.total_gmv(fitted, trial) <= best * (1 + 1e-3)


def test_dense_days_fills_the_days_nothing_happened_and_keeps_the_window() -> None:
    """Every brand gets one row per day of the window, zeros on its missing days; a day
    outside the window is left out, and brands come in their sorted order."""
    start, end = date(2026, 3, 1), date(2026, 3, 5)
    daily = pd.DataFrame(
        {
            "brand_id": ["b2", "b1", "b1", "b2", "b1"],
            "date": pd.to_datetime(
                ["2026-03-02", "2026-03-01", "2026-03-05", "2026-03-06", "2026-02-28"]
            ),
            "spend": [5.0, 1.5, 2.0, 9.0, 7.0],
            "paid_gmv": [50.0, 10.0, 0.0, 90.0, 70.0],
        }
    )
    series = traffic.dense_days(daily, start, end)
    assert list(series) == ["b1", "b2"]
    for g in series.values():
        assert list(g.index) == list(pd.date_range(start, end, freq="D"))
    assert series["b1"]["spend"].tolist() == [1.5, 0.0, 0.0, 0.0, 2.0]
    assert series["b1"]["paid_gmv"].tolist() == [10.0, 0.0, 0.0, 0.0, 0.0]
    assert series["b2"]["spend"].tolist() == [0.0, 5.0, 0.0, 0.0, 0.0]
    assert series["b2"]["paid_gmv"].tolist() == [0.0, 50.0, 0.0, 0.0, 0.0]
