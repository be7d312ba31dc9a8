"""Lifetime-value models, validated on published CDNOW results and on planted parameters.

Published results: Fader, Hardie & Lee (2005) BG/NBD on the CDNOW sample (r=0.243, α=4.414,
a=0.793, b=2.426, LL=−9582.4); Fader & Hardie's Pareto/NBD note on the same data (r=0.553,
α=10.58, s=0.606, β=11.67, LL=−9595.0); Fader & Hardie (2013) Gamma-Gamma on its 946 repeat
buyers (p=6.25, q=3.74, γ=15.44). The raw CDNOW transactions ship inside the ``lifetimes`` wheel;
they go through windmaker's own path: contract orders table → Ibis RFM summary → compiled fit.
"""

from __future__ import annotations

import importlib.util
import warnings
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from windmaker.models import clv
from windmaker.warehouse import Warehouse

CDNOW_END = date(1997, 9, 30)  # end of the 39-week calibration period of FHL (2005)


def _lifetimes_datasets() -> Path:
    """The data folder of the ``lifetimes`` wheel, found without importing the package."""
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.submodule_search_locations, "lifetimes (dev extra) missing"
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


def _lifetimes_fitters() -> tuple[type, type]:
    """lifetimes' BG/NBD and Pareto/NBD fitters, the reference implementation of the forecasts.

    Importing it touches a pandas option that pandas 3 deprecates; that notice is lifetimes'.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
        from lifetimes import BetaGeoFitter, ParetoNBDFitter
    return BetaGeoFitter, ParetoNBDFitter


def orders_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Contract ``orders`` rows with defaults for the columns a test does not care about."""
    base: dict[str, object] = {
        "brand_id": "b1",
        "sku_id": "s1",
        "account_id": "a1",
        "session_id": None,
        "traffic_source": "other",
        "quantity": 1,
        "commission": Decimal("0"),
        "status": "completed",
        "refund_amount": Decimal("0"),
        "refunded_at": pd.NaT,
        "promised_ship_by": pd.NaT,
        "shipped_at": pd.NaT,
    }
    df = pd.DataFrame([{**base, **r} for r in rows])
    df["order_id"] = [f"o{i}" for i in range(len(df))]
    return df


@pytest.fixture(scope="module")
def cdnow_orders() -> pd.DataFrame:
    """CDNOW_sample.txt as the orders table: one row per transaction (buyer = the sample's id)."""
    raw = pd.read_csv(
        _lifetimes_datasets() / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "buyer", "day", "cds", "dollars"],
    )
    paid_at = pd.to_datetime(raw["day"].astype(str)) + pd.Timedelta(hours=20)
    return orders_frame(
        [
            {
                "paid_at": p,
                "brand_id": "cdnow",
                "buyer_id": str(b),
                "quantity": int(q),
                "amount": Decimal(f"{d:.2f}"),
            }
            for p, b, q, d in zip(paid_at, raw["buyer"], raw["cds"], raw["dollars"], strict=True)
        ]
    )


@pytest.fixture(scope="module")
def cdnow_rfm(cdnow_orders: pd.DataFrame) -> pd.DataFrame:
    wh = Warehouse("duckdb://")
    wh.ensure_source_tables()
    wh.insert("orders", cdnow_orders)
    expr = clv.rfm_summary(wh.table("orders"), observation_end=CDNOW_END, time_unit="week")
    out = wh.execute(expr)
    wh.close()
    return out.assign(ID=out["buyer_id"].astype(int)).set_index("ID").sort_index()


def test_rfm_path_reproduces_the_published_cdnow_summaries(cdnow_rfm: pd.DataFrame) -> None:
    """Our summary of the raw sample equals lifetimes' cdnow_customers_summary files (2 d.p.)."""
    ref = pd.read_csv(_lifetimes_datasets() / "cdnow_customers_summary.csv").set_index("ID")
    money = pd.read_csv(
        _lifetimes_datasets() / "cdnow_customers_summary_with_transactions.csv"
    ).set_index("ID")
    assert len(cdnow_rfm) == len(ref) == 2357
    ours = cdnow_rfm.loc[ref.index]
    assert (ours["frequency"].to_numpy() == ref["frequency"].to_numpy()).all()
    np.testing.assert_allclose(ours["recency"], ref["recency"], atol=0.0051)
    np.testing.assert_allclose(ours["T"], ref["T"], atol=0.0051)
    repeat = money[money["x"] > 0]
    assert len(repeat) == 946
    np.testing.assert_allclose(
        ours.loc[repeat.index, "monetary_value"], repeat["zbar"], atol=0.0051
    )
    assert ours.loc[money[money["x"] == 0].index, "monetary_value"].isna().all()


def test_bg_nbd_matches_fader_hardie_lee_2005(cdnow_rfm: pd.DataFrame) -> None:
    fit = clv.fit_bg_nbd(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert fit.params[name] == pytest.approx(value, rel=0.01), name
    assert fit.loglik == pytest.approx(-9582.4, abs=0.5)
    assert fit.converged


def test_pareto_nbd_matches_the_published_cdnow_fit(cdnow_rfm: pd.DataFrame) -> None:
    """Fader & Hardie's Pareto/NBD note: r=0.5534, α=10.5802, s=0.6061, β=11.6562, LL=−9595.0."""
    fit = clv.fit_pareto_nbd(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"])
    published = {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562}
    for name, value in published.items():
        assert fit.params[name] == pytest.approx(value, rel=0.01), name
    assert fit.loglik == pytest.approx(-9595.0, abs=0.5)
    # On CDNOW BG/NBD fits better, so the selection keeps it.
    chosen = clv.fit_repeat(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"])
    assert chosen.model == "bg_nbd"
    assert chosen.loglik_pareto_nbd == pytest.approx(fit.loglik)
    # Started from the BG/NBD fit (as fit_repeat does), the same published optimum.
    warm = clv.fit_pareto_nbd(
        cdnow_rfm["frequency"],
        cdnow_rfm["recency"],
        cdnow_rfm["T"],
        start_from=clv.fit_bg_nbd(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"]),
    )
    for name, value in published.items():
        assert warm.params[name] == pytest.approx(value, rel=0.01), name


def test_gamma_gamma_matches_fader_hardie_2013(cdnow_rfm: pd.DataFrame) -> None:
    repeat = cdnow_rfm[cdnow_rfm["frequency"] > 0]
    fit = clv.fit_gamma_gamma(repeat["frequency"], repeat["monetary_value"])
    assert fit.p == pytest.approx(6.25, rel=0.01)
    assert fit.q == pytest.approx(3.74, rel=0.01)
    assert fit.gamma == pytest.approx(15.44, rel=0.01)
    assert fit.buyers == 946


def test_weighted_cells_give_the_same_fit_as_one_row_per_buyer(cdnow_rfm: pd.DataFrame) -> None:
    cells = cdnow_rfm.groupby(["frequency", "recency", "T"], as_index=False).size()
    assert len(cells) < len(cdnow_rfm)
    a = clv.fit_bg_nbd(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"])
    b = clv.fit_bg_nbd(cells["frequency"], cells["recency"], cells["T"], cells["size"])
    for name in a.params:
        assert b.params[name] == pytest.approx(a.params[name], rel=1e-4)
    assert b.loglik == pytest.approx(a.loglik, rel=1e-8)


def test_predictions_agree_with_the_reference_implementation(cdnow_rfm: pd.DataFrame) -> None:
    """Closed forms against lifetimes' fitters given the same parameters."""
    BetaGeoFitter, ParetoNBDFitter = _lifetimes_fitters()
    x, tx, tt = (cdnow_rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    bg = clv.fit_bg_nbd(x, tx, tt)
    ref = BetaGeoFitter()
    ref.params_ = pd.Series(bg.params)
    np.testing.assert_allclose(
        clv.expected_purchases(bg, 52.0, x, tx, tt),
        ref.conditional_expected_number_of_purchases_up_to_time(52.0, x, tx, tt),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        clv.p_alive(bg, x, tx, tt), ref.conditional_probability_alive(x, tx, tt), rtol=1e-6
    )
    pn = clv.fit_pareto_nbd(x, tx, tt)
    ref_pn = ParetoNBDFitter()
    ref_pn.params_ = pd.Series(pn.params)
    np.testing.assert_allclose(
        clv.p_alive(pn, x, tx, tt), ref_pn.conditional_probability_alive(x, tx, tt), rtol=1e-5
    )
    np.testing.assert_allclose(
        clv.expected_purchases(pn, 52.0, x, tx, tt),
        ref_pn.conditional_expected_number_of_purchases_up_to_time(52.0, x, tx, tt),
        rtol=1e-5,
    )


def test_rfm_drops_cancelled_and_fully_refunded_orders_and_nets_partial_refunds() -> None:
    """A hand-computed buyer: pandas reference of the summary's definition."""
    t0 = datetime(2026, 1, 1, 10)
    rows = [
        {"buyer_id": "u", "paid_at": t0, "amount": Decimal("100.00")},
        # same day: one occasion with the first order
        {"buyer_id": "u", "paid_at": t0 + timedelta(hours=5), "amount": Decimal("20.00")},
        # cancelled: not a purchase
        {
            "buyer_id": "u",
            "paid_at": t0 + timedelta(days=3),
            "amount": Decimal("50.00"),
            "status": "cancelled",
        },
        # fully refunded: not a purchase
        {
            "buyer_id": "u",
            "paid_at": t0 + timedelta(days=7),
            "amount": Decimal("60.00"),
            "status": "refunded",
            "refund_amount": Decimal("60.00"),
        },
        # partly refunded: counts its net 30
        {
            "buyer_id": "u",
            "paid_at": t0 + timedelta(days=14),
            "amount": Decimal("40.00"),
            "refund_amount": Decimal("10.00"),
        },
        {"buyer_id": "u", "paid_at": t0 + timedelta(days=28), "amount": Decimal("50.00")},
        # after the observation end: ignored
        {"buyer_id": "u", "paid_at": t0 + timedelta(days=80), "amount": Decimal("50.00")},
        {"buyer_id": "v", "paid_at": t0 + timedelta(days=1), "amount": Decimal("10.00")},
    ]
    wh = Warehouse("duckdb://")
    wh.ensure_source_tables()
    wh.insert("orders", orders_frame(rows))
    end = date(2026, 2, 25)
    out = wh.execute(
        clv.rfm_summary(wh.table("orders"), observation_end=end, time_unit="day")
    ).set_index("buyer_id")
    wh.close()
    u, v = out.loc["u"], out.loc["v"]
    assert u["frequency"] == 2
    assert u["recency"] == pytest.approx(28.0)
    assert u["T"] == pytest.approx((end - date(2026, 1, 1)).days)
    assert u["monetary_value"] == pytest.approx((30 + 50) / 2)
    assert u["net_gmv"] == Decimal("200.00")
    assert v["frequency"] == 0 and pd.isna(v["monetary_value"])


def test_segments_follow_the_configured_thresholds() -> None:
    cfg = clv.SegmentConfig(
        active_min=0.7, at_risk_min=0.3, new_within_days=60, lapse_after_days=180
    )
    seg = clv.segment_buyers(
        np.array([3, 3, 3, 0, 0, 0]),
        np.array([0.9, 0.5, 0.1, 1.0, 1.0, 1.0]),
        np.array([300, 300, 300, 30, 100, 200]),
        cfg,
    )
    assert list(seg) == ["active_fan", "at_risk", "lapsed", "new", "at_risk", "lapsed"]


def test_config_rejects_inverted_thresholds(tmp_path: Path) -> None:
    from windmaker.config import ConfigError

    (tmp_path / "models.yaml").write_text(
        "version: 1\nclv:\n  segments:\n    active_min: 0.2\n    at_risk_min: 0.5\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"models\.yaml: clv\.segments"):
        clv.load_models_config(tmp_path)
    assert clv.load_models_config().clv.min_buyers >= 2


def test_config_has_no_history_window(tmp_path: Path) -> None:
    """A key that cut history (and with it every buyer who had not bought inside the window) is
    refused with the reason, not ignored; the shipped configuration has none."""
    from windmaker.config import ConfigError

    assert "history_months" not in clv.ClvConfig.model_fields
    (tmp_path / "models.yaml").write_text(
        "version: 1\nclv:\n  history_months: 12\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"models\.yaml: clv.*whole history"):
        clv.load_models_config(tmp_path)


def test_rfm_counts_age_from_the_first_purchase_ever() -> None:
    """Hand-computed: a buyer who first bought three years before the end and not since keeps
    T = the whole three years, and one who came back after two years counts both purchases."""
    end = date(2026, 6, 30)
    rows = [
        {"buyer_id": "dormant", "paid_at": datetime(2023, 6, 30, 12), "amount": Decimal("10")},
        {"buyer_id": "back", "paid_at": datetime(2024, 1, 1, 12), "amount": Decimal("10")},
        {"buyer_id": "back", "paid_at": datetime(2026, 1, 1, 12), "amount": Decimal("30")},
    ]
    wh = Warehouse("duckdb://")
    wh.ensure_source_tables()
    wh.insert("orders", orders_frame(rows))
    out = wh.execute(
        clv.rfm_summary(wh.table("orders"), observation_end=end, time_unit="day")
    ).set_index("buyer_id")
    wh.close()
    assert set(out.index) == {"dormant", "back"}
    assert out.loc["dormant", "T"] == (end - date(2023, 6, 30)).days
    assert out.loc["back", "frequency"] == 1
    assert out.loc["back", "recency"] == (date(2026, 1, 1) - date(2024, 1, 1)).days
    assert out.loc["back", "T"] == (end - date(2024, 1, 1)).days


# -- planted truth ---------------------------------------------------------------------------
def simulate_bg_nbd_orders(
    brand: str, n: int, params: dict[str, float], weeks: float, seed: int, start: datetime
) -> list[dict[str, object]]:
    """Transactions of ``n`` buyers from a known BG/NBD process, first purchase spread over the
    first half of the window; spend per occasion from a known Gamma-Gamma (p=4, q=5, γ=60)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    drop = rng.beta(params["a"], params["b"], n)
    nu = rng.gamma(5.0, 1 / 60.0, n)
    rows: list[dict[str, object]] = []
    for i in range(n):
        t = rng.uniform(0, weeks / 2)
        purchases = 0
        while t <= weeks:
            day = start + timedelta(days=float(np.floor(t * 7)))
            amount = rng.gamma(4.0, 1 / nu[i])
            rows.append(
                {
                    "brand_id": brand,
                    "buyer_id": f"{brand}-{i}",
                    "paid_at": day + timedelta(hours=12),
                    "amount": Decimal(f"{max(amount, 0.01):.2f}"),
                }
            )
            purchases += 1
            # BG/NBD: a buyer may drop out after each *repeat* purchase, never after the first.
            if purchases > 1 and rng.random() < drop[i]:
                break
            t += rng.exponential(1 / lam[i])
    return rows


PLANTED = {
    "big1": {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0},
    "big2": {"r": 1.5, "alpha": 10.0, "a": 0.3, "b": 2.5},
    "big3": {"r": 0.5, "alpha": 3.0, "a": 0.9, "b": 4.0},
}


@pytest.fixture(scope="module")
def planted_market() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, date]:
    start = datetime(2025, 11, 1)
    weeks = 52.0
    rows: list[dict[str, object]] = []
    for k, (brand, params) in enumerate(PLANTED.items()):
        rows += simulate_bg_nbd_orders(brand, 4000, params, weeks, 11 + k, start)
    rows += simulate_bg_nbd_orders("tiny", 60, PLANTED["big1"], weeks, 99, start)
    brands = pd.DataFrame(
        {
            "brand_id": [*PLANTED, "tiny"],
            "name": [*PLANTED, "tiny"],
            "category": ["beauty"] * 4,
            "origin": "traditional",
            "joined_at": start,
        }
    )
    end = (start + timedelta(weeks=weeks)).date()
    wh = Warehouse("duckdb://")
    wh.ensure_source_tables()
    wh.insert("brands", brands)
    wh.insert("orders", orders_frame(rows))
    rfm_expr = clv.rfm_summary(wh.table("orders"), observation_end=end, time_unit="week")
    rfm = wh.execute(rfm_expr)
    cells = wh.execute(clv.rfm_cells(rfm_expr, wh.table("brands")))
    spend = wh.execute(clv.repeat_spend(rfm_expr, wh.table("brands")))
    wh.close()
    return rfm, cells, spend, end


def test_market_fit_recovers_planted_repeat_parameters(
    planted_market: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, date],
) -> None:
    """Tolerance on 4,000-buyer brands: every BG/NBD parameter within 40% of the planted one and
    a hit rate of at least 9 of 12 within 25% (a and b, the dropout shapes, are the loosely
    identified pair at this size); the purchase-rate mean r/α and dropout mean a/(a+b), which
    drive predictions, within 15% on every brand. Gamma-Gamma mean spend within 10% of
    γ p/(q−1)."""
    _rfm, cells, spend, _end = planted_market
    cfg = clv.ClvConfig(min_buyers=300, pareto_nbd=False)
    fits = {f.brand_id: f for f in clv.fit_market(cells, spend, cfg)}
    hits = total = 0
    for brand, truth in PLANTED.items():
        fit = fits[brand]
        assert fit.repeat_level == "brand" and fit.spend_level == "brand"
        for name, value in truth.items():
            total += 1
            error = abs(fit.repeat.params[name] / value - 1)
            assert error <= 0.40, (brand, name, fit.repeat.params[name], value)
            hits += error <= 0.25
        p = fit.repeat.params
        assert p["r"] / p["alpha"] == pytest.approx(truth["r"] / truth["alpha"], rel=0.15)
        assert p["a"] / (p["a"] + p["b"]) == pytest.approx(
            truth["a"] / (truth["a"] + truth["b"]), rel=0.15
        )
        assert fit.spend is not None
        assert fit.spend.population_mean == pytest.approx(60.0 * 4.0 / 4.0, rel=0.10)
    assert hits >= 9, f"{hits}/{total} parameters within 25%"
    tiny = fits["tiny"]
    assert tiny.repeat_level == "category"
    assert any("min_buyers" in n for n in tiny.notes)


def test_scores_and_brand_table(
    planted_market: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, date],
) -> None:
    """Predicted repurchases per buyer over 52 weeks match the planted process's own forecast
    (the same closed form under the true parameters) within 10% on average per brand."""
    rfm, cells, spend, end = planted_market
    cfg = clv.ClvConfig(min_buyers=300, pareto_nbd=False)
    fits = clv.fit_market(cells, spend, cfg)
    buyers = clv.score_buyers(rfm, fits, cfg, end)
    assert len(buyers) == len(rfm)
    assert set(buyers["segment"]) <= set(clv.SEGMENTS)
    assert (buyers["expected_purchases_365d"] >= buyers["expected_purchases_90d"]).all()
    for brand, truth in PLANTED.items():
        b = buyers[buyers["brand_id"] == brand]
        ours = b["expected_purchases_365d"].mean()
        ref = clv.bg_nbd_expected_purchases(
            365 / 7, b["frequency"], b["recency"], b["T"], **truth
        ).mean()
        assert ours == pytest.approx(ref, rel=0.10)
    table = clv.brand_table(fits, buyers, cfg, end)
    assert list(table["brand_id"]) == [f.brand_id for f in fits]
    seg_total = table[[f"{s}_buyers" for s in clv.SEGMENTS]].sum(axis=1)
    assert (seg_total == table["buyers"]).all()
    assert (table["value_per_buyer_365d"] > table["value_per_buyer_90d"]).all()


def test_a_batch_of_interleaved_brands_scores_as_each_brand_alone(
    planted_market: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, date],
) -> None:
    """A batch scores each brand's buyers on its own slice of the batch's arrays. With the
    brands' rows shuffled together and one brand left without a fit, every buyer's row equals
    the row that brand's rows alone give, brands in order of first appearance; the brand
    without a fit has no rows."""
    rfm, cells, spend, end = planted_market
    cfg = clv.ClvConfig(min_buyers=300, pareto_nbd=False)
    fits = [f for f in clv.fit_market(cells, spend, cfg) if f.brand_id != "big1"]
    mixed = rfm.sample(frac=1.0, random_state=4).reset_index(drop=True)
    got = clv.score_buyers(mixed, fits, cfg, end)
    alone = [
        clv.score_buyers(mixed[mixed["brand_id"] == b], fits, cfg, end)
        for b in mixed["brand_id"].drop_duplicates()
        if b != "big1"
    ]
    pd.testing.assert_frame_equal(got, pd.concat(alone, ignore_index=True))
    assert "big1" not in set(got["brand_id"])
    assert len(got) == int((rfm["brand_id"] != "big1").sum())


def test_own_tasks_of_a_batch_are_each_brands_own_inputs(
    planted_market: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, date],
) -> None:
    """A batch of brands' rows (cells and spend, shuffled together, as the warehouse hands
    them) becomes each brand's fit inputs in one pass: equal, array for array, to those
    :func:`clv.fit_group` makes of that brand's rows alone, including the order of repeat
    buyers alike in (frequency, spend); the brand with most rows first; a brand under the
    thresholds gets no fit of that kind."""
    from windmaker.models.clv import market

    _rfm, cells, spend, _end = planted_market
    cfg = clv.ClvConfig(min_buyers=300, min_repeat_buyers=60, pareto_nbd=False)
    twins = spend.head(40).assign(frequency=3, monetary_value=99.0)  # ties in the spend order
    rows = pd.concat(
        [
            cells.assign(part=clv.PART_CELLS, monetary_value=np.nan),
            pd.concat([spend, twins]).assign(
                part=clv.PART_SPEND, recency=np.nan, T=np.nan, buyers=pd.NA
            ),
        ],
        ignore_index=True,
    )[["brand_id", "part", "frequency", "recency", "T", "buyers", "monetary_value"]]
    rows = rows.sample(frac=1.0, random_state=2).reset_index(drop=True)
    tasks = clv.own_tasks(rows, cfg)
    sizes = rows["brand_id"].value_counts()
    assert [t.key[1] for t in tasks] == list(sizes.sort_values(ascending=False).index)
    for task in tasks:
        alone = market._group_task(rows[rows["brand_id"] == task.key[1]], cfg)
        assert task.key == alone.key
        for got, want in ((task.cells, alone.cells), (task.spend, alone.spend)):
            assert (got is None) == (want is None)
            if got is None:
                continue
            for name, value in vars(want).items():
                if value is None:
                    assert getattr(got, name) is None
                else:
                    np.testing.assert_array_equal(getattr(got, name), value, err_msg=name)
    tiny = next(t for t in tasks if t.key == ("brand", "tiny"))
    assert tiny.cells is None and tiny.spend is None


# -- planted truth of the market simulator ------------------------------------------------------
SIM_TOP = 5


@pytest.fixture(scope="module")
def simulated_repeat_fits(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, clv.BrandClv], pd.DataFrame]:
    """BG/NBD fits (weekly unit, the shipped default) of a simulated market's largest brands.

    A 60-brand, 12-month market (seed 3); the orders go through the warehouse and windmaker's
    RFM summary, exactly as ``windmaker models fit`` reads them.
    """
    from windmaker.simulator import MarketConfig, simulate

    out = tmp_path_factory.mktemp("sim_clv")
    simulate(MarketConfig(brands=60, months=12, seed=3), out, fmt="parquet")
    orders = pd.read_parquet(out / "orders.parquet")
    brands = pd.read_parquet(out / "brands.parquet")
    truth = pd.read_parquet(out / "truth" / "repeat_params.parquet").set_index("brand_id")
    top = orders.groupby("brand_id")["buyer_id"].nunique().nlargest(SIM_TOP).index
    orders = orders[orders["brand_id"].isin(top)]
    end = orders["paid_at"].max().date()
    wh = Warehouse("duckdb://")
    wh.ensure_source_tables()
    wh.insert("brands", brands)
    wh.insert("orders", orders)
    rfm_expr = clv.rfm_summary(wh.table("orders"), observation_end=end, time_unit="week")
    cells = wh.execute(clv.rfm_cells(rfm_expr, wh.table("brands")))
    spend = wh.execute(clv.repeat_spend(rfm_expr, wh.table("brands")))
    wh.close()
    cfg = clv.ClvConfig(min_buyers=300, pareto_nbd=False)
    fits = {f.brand_id: f for f in clv.fit_market(cells, spend, cfg)}
    return {b: fits[b] for b in top}, truth


def test_bg_nbd_recovers_the_simulators_planted_repeat_parameters(
    simulated_repeat_fits: tuple[dict[str, clv.BrandClv], pd.DataFrame],
) -> None:
    """Planted truth: ``truth/repeat_params.parquet`` (BG/NBD per day; α/7 per week).

    Tolerance on the 5 largest brands (5,000–12,500 buyers): r within 15% and α (per week)
    within 20% on at least 4 of 5 brands; the mean purchase rate r/α within 20% on at least 4 of
    5. Seed 3 gives 5/5 on each (r 0.71–0.84 vs 0.8, α within 14%, r/α 8–17% low)."""
    fits, truth = simulated_repeat_fits
    r_hits = alpha_hits = rate_hits = 0
    for brand, fit in fits.items():
        assert fit.repeat_level == "brand"
        p = fit.repeat.params
        t = truth.loc[brand]
        alpha_week = float(t["alpha"]) / 7.0
        r_hits += abs(p["r"] / float(t["r"]) - 1) <= 0.15
        alpha_hits += abs(p["alpha"] / alpha_week - 1) <= 0.20
        rate_hits += abs((p["r"] / p["alpha"]) / (float(t["r"]) / alpha_week) - 1) <= 0.20
    assert r_hits >= 4, r_hits
    assert alpha_hits >= 4, alpha_hits
    assert rate_hits >= 4, rate_hits


def test_brands_fitted_on_two_processes_equal_the_fits_in_one(
    planted_market: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, date],
) -> None:
    """The market's fits run on worker processes (``ClvConfig.workers``): on the planted
    market the fits made by two spawned workers are exactly those made in this process, brand
    for brand, and so is the pooled fit of every brand's buyers together (the fallback of a
    thin category or of the market, fitted on the same workers); the same likelihoods,
    compiled once in each worker."""
    from windmaker.models.clv import market
    from windmaker.models.parallel import on_cores

    _rfm, cells, spend, _end = planted_market
    tasks = [
        market.FitTask(("market", ""), cells, spend, try_pareto=True, min_gain=2.0),
        *(
            market.FitTask(
                ("brand", str(b)),
                cells[cells["brand_id"] == b],
                spend[spend["brand_id"] == b],
                try_pareto=True,
                min_gain=2.0,
            )
            for b in PLANTED
        ),
    ]
    here = list(on_cores(market._fit_one, tasks, 1))
    pooled = list(on_cores(market._fit_one, tasks, 2, min_per_worker=1))
    assert [k for k, _, _ in pooled] == [("market", ""), *(("brand", str(b)) for b in PLANTED)]
    for (b1, r1, s1), (b2, r2, s2) in zip(here, pooled, strict=True):
        assert b1 == b2 and r1 is not None and r2 is not None
        assert r1.model == r2.model and r1.params == pytest.approx(r2.params, rel=1e-9)
        assert r1.loglik == pytest.approx(r2.loglik, rel=1e-12)
        assert s1 is not None and s2 is not None
        assert s1.population_mean == pytest.approx(s2.population_mean, rel=1e-12)
