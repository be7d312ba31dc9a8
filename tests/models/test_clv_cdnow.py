"""Lifetime value on the whole CDNOW master file, through ingest and ``windmaker models fit``.

Known answer: the published CDNOW_master transactions (23,570 customers who first bought in
January–March 1997, followed to the end of June 1998; shipped inside the ``lifetimes`` wheel) and
a reference BG/NBD fit of the same data by ``lifetimes``' own ``BetaGeoFitter`` on the
calibration summary of ``lifetimes.utils.summary_data_from_transaction_data`` (one transaction
per customer and day, time in days / 7). The transactions become an orders file of one brand,
dollars taken as yuan, and go through windmaker's own path: ``windmaker ingest`` → ``windmaker
models fit --end 1997-09-30`` with the shipped configuration → ``mdl_clv_brand`` /
``mdl_clv_buyers``.

Measured (calibration up to 1997-09-30, weeks 1–39; holdout 1997-10-01 … 1998-06-30, weeks
40–78; repeat purchases counted as customer-days, as in the calibration):

- every customer is fitted: 23,570 of 23,570;
- the shipped configuration keeps BG/NBD (log-likelihood −95,368.4 against −95,415.1 for
  Pareto/NBD), so the pipeline's stored predictions are BG/NBD's; parameters r=0.2516,
  α=4.789, a=0.7234, b=2.161, the reference's to 1e-5;
- weeks 40–78: predicted 16,873.7 repeat purchases (reference 16,873.7: 2.5e-7 apart), actual
  19,684, so BG/NBD itself under-predicts this holdout by 14.3%;
- first 90 days of the holdout (1997-10-01 … 1997-12-29): predicted 6,304.5 (the stored
  ``expected_purchases_90d``, summed; reference 6,304.5), actual 7,307 (13.7% under).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from windmaker.cli.main import app as cli_app
from windmaker.config import Settings
from windmaker.growth.model_feed import CLV_BRAND, CLV_BUYERS
from windmaker.models import clv
from windmaker.workspace import init_workspace, open_warehouse

CALIBRATION_END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)
HOLDOUT_WEEKS = (HOLDOUT_END - CALIBRATION_END).days / 7  # 39: weeks 40-78


def _cdnow_master() -> pd.DataFrame:
    """CDNOW_master.txt: customer_id, date (YYYYMMDD), number_of_cds, dollar_value."""
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.submodule_search_locations, "lifetimes (dev extra) missing"
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets"
    raw = pd.read_csv(folder / "CDNOW_master.txt", sep=r"\s+")
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    return raw


def _write_market(raw: pd.DataFrame, folder: Path) -> list[Path]:
    """CDNOW as a one-brand market: the brand, its one SKU and account, and one order a row."""
    folder.mkdir(parents=True, exist_ok=True)
    joined = "1996-12-01"
    frames = {
        "brands": pd.DataFrame(
            [
                {
                    "brand_id": "cdnow",
                    "name": "CDNOW",
                    "category": "music",
                    "origin": "traditional",
                    "joined_at": joined,
                }
            ]
        ),
        "skus": pd.DataFrame(
            [
                {
                    "sku_id": "cd",
                    "brand_id": "cdnow",
                    "category": "music",
                    "list_price": "12.00",
                    "launched_at": joined,
                }
            ]
        ),
        "accounts": pd.DataFrame(
            [
                {
                    "account_id": "cdnow-main",
                    "kind": "brand_main",
                    "brand_id": "cdnow",
                    "name": "CDNOW",
                    "category": "music",
                    "fans": 0,
                    "created_at": joined,
                }
            ]
        ),
        # Several rows of one customer on one day stay several orders: the summary makes them
        # one purchase occasion, as lifetimes does.
        "orders": pd.DataFrame(
            {
                "order_id": [f"cdnow-{i}" for i in range(len(raw))],
                "paid_at": raw["date"].dt.strftime("%Y-%m-%d 12:00:00"),
                "brand_id": "cdnow",
                "sku_id": "cd",
                "account_id": "cdnow-main",
                "buyer_id": raw["customer_id"].astype(str),
                "traffic_source": "other",
                "quantity": raw["number_of_cds"],
                "amount": raw["dollar_value"].map(lambda d: f"{d:.2f}"),
                "status": "completed",
            }
        ),
    }
    paths = []
    for name, df in frames.items():
        path = folder / f"{name}.csv"
        df.to_csv(path, index=False)
        paths.append(path)
    return paths


@dataclass(frozen=True)
class CdnowRun:
    raw: pd.DataFrame
    brand: pd.Series
    buyers: pd.DataFrame
    settings: Settings


@pytest.fixture(scope="module")
def cdnow_run(tmp_path_factory: pytest.TempPathFactory) -> CdnowRun:
    """The whole master file ingested and fitted with the shipped configuration, via the CLI."""
    raw = _cdnow_master()
    root = tmp_path_factory.mktemp("cdnow_master")
    files = _write_market(raw, root / "files")
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("WINDMAKER_") and key != "WINDMAKER_TEST_POSTGRES_URL":
                mp.delenv(key)
        settings = init_workspace(root / "ws")
        ws = str(settings.workspace)
        ingested = runner.invoke(
            cli_app,
            ["ingest", *map(str, files), "--money-unit", "yuan", "--no-progress", "-w", ws],
        )
        assert ingested.exit_code == 0, ingested.output
        fitted = runner.invoke(
            cli_app, ["models", "fit", "--end", CALIBRATION_END.isoformat(), "-w", ws]
        )
        assert fitted.exit_code == 0, fitted.output
        with open_warehouse(settings) as wh:
            assert wh.execute(wh.table("orders").count()) == len(raw)
            brand = wh.execute(wh.table(CLV_BRAND))
            buyers = wh.execute(wh.table(CLV_BUYERS))
    assert len(brand) == 1
    buyers = buyers.assign(customer_id=buyers["buyer_id"].astype(int)).set_index("customer_id")
    return CdnowRun(raw, brand.iloc[0], buyers.sort_index(), settings)


@pytest.fixture(scope="module")
def reference() -> tuple[pd.DataFrame, dict[str, float]]:
    """lifetimes' calibration summary (per customer and day, days / 7) and its BG/NBD fit."""
    raw = _cdnow_master()
    cal = raw[raw["date"] <= pd.Timestamp(CALIBRATION_END)]
    with warnings.catch_warnings():
        # lifetimes predates pandas 3 and NumPy 2; its notices about them are its own.
        warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        from lifetimes import BetaGeoFitter
        from lifetimes.utils import summary_data_from_transaction_data

        summary = summary_data_from_transaction_data(
            cal,
            "customer_id",
            "date",
            observation_period_end=pd.Timestamp(CALIBRATION_END),
            freq="D",
            freq_multiplier=7,
        )
        fitter = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    return summary.sort_index(), {k: float(v) for k, v in fitter.params_.items()}


def _holdout_purchases(raw: pd.DataFrame, days: int) -> int:
    """Actual repeat purchases in the first ``days`` days after calibration: customer-days."""
    start = pd.Timestamp(CALIBRATION_END)
    hold = raw[(raw["date"] > start) & (raw["date"] <= start + timedelta(days=days))]
    return int(hold.groupby("customer_id")["date"].nunique().sum())


def test_every_cdnow_customer_is_fitted(cdnow_run: CdnowRun) -> None:
    """Count of fitted buyers == distinct customers with a first purchase on or before the end."""
    first = cdnow_run.raw.groupby("customer_id")["date"].min()
    expected = set(first[first <= pd.Timestamp(CALIBRATION_END)].index)
    assert len(expected) == 23_570
    assert int(cdnow_run.brand["buyers"]) == len(expected)
    assert set(cdnow_run.buyers.index) == expected
    assert cdnow_run.brand["fit_level"] == "brand"


def test_summary_is_lifetimes_one_transaction_per_day(
    cdnow_run: CdnowRun, reference: tuple[pd.DataFrame, dict[str, float]]
) -> None:
    """Frequency, recency and T of every customer equal lifetimes' summary of the raw rows.

    Up to 1997-09-30 CDNOW has 49,086 rows for 47,907 customer-days: a customer's rows on one
    day are one purchase occasion in both.
    """
    summary, _ = reference
    ours = cdnow_run.buyers.loc[summary.index]
    raw = cdnow_run.raw
    cal = raw[raw["date"] <= pd.Timestamp(CALIBRATION_END)]
    days = cal.groupby("customer_id")["date"].nunique()
    # Same-day rows exist, so the frequency check below tells the two countings apart.
    assert (len(cal), int(days.sum())) == (49_086, 47_907)
    assert (ours["frequency"].to_numpy() == summary["frequency"].to_numpy()).all()
    assert int(ours["frequency"].sum()) == int(days.sum()) - len(days)
    np.testing.assert_allclose(ours["recency"], summary["recency"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["T"], summary["T"], rtol=0, atol=1e-9)


def test_holdout_forecast_within_one_percent_of_the_reference_bg_nbd(
    cdnow_run: CdnowRun, reference: tuple[pd.DataFrame, dict[str, float]]
) -> None:
    """Summed expected repeat purchases in weeks 40–78 within 1% of lifetimes' BG/NBD.

    The comparison is BG/NBD against BG/NBD: the shipped configuration also fits Pareto/NBD and
    would keep it only with a log-likelihood 2 higher; on CDNOW it is 46.7 lower, so the stored
    model is BG/NBD (asserted, so a change of choice fails here rather than comparing two
    different models). Actual repeat purchases are reported beside the forecasts (module
    docstring); the bar is agreement with the reference fit, not with the holdout.
    """
    summary, ref_params = reference
    brand = cdnow_run.brand
    assert brand["repeat_model"] == "bg_nbd"
    assert brand["loglik_pareto_nbd"] < brand["loglik_bg_nbd"] == brand["loglik"]
    params = {k: float(brand[k]) for k in ("r", "alpha", "a", "b")}
    for name, value in ref_params.items():
        assert params[name] == pytest.approx(value, rel=1e-3), name

    ours = cdnow_run.buyers.loc[summary.index]
    x, t_x, big_t = (ours[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    predicted = clv.bg_nbd_expected_purchases(HOLDOUT_WEEKS, x, t_x, big_t, **params).sum()
    ref = _reference_forecast(summary, ref_params, HOLDOUT_WEEKS)
    assert predicted == pytest.approx(ref, rel=0.01)
    # The stored 90-day forecast, summed, against the reference over the same 90 days.
    stored_90 = float(cdnow_run.buyers["expected_purchases_90d"].sum())
    assert stored_90 == pytest.approx(_reference_forecast(summary, ref_params, 90 / 7), rel=0.01)

    # The measured holdout of the module docstring: BG/NBD falls short of it over either span.
    actual_39w = _holdout_purchases(cdnow_run.raw, (HOLDOUT_END - CALIBRATION_END).days)
    actual_90d = _holdout_purchases(cdnow_run.raw, 90)
    assert (actual_39w, actual_90d) == (19_684, 7_307)
    assert predicted == pytest.approx(16_873.7, abs=1.0) and predicted < actual_39w
    assert stored_90 == pytest.approx(6_304.5, abs=1.0) and stored_90 < actual_90d


def _reference_forecast(summary: pd.DataFrame, params: dict[str, float], weeks: float) -> float:
    """lifetimes' conditional expectation summed over customers, with its fitted parameters."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
        from lifetimes import BetaGeoFitter

    fitter = BetaGeoFitter()
    fitter.params_ = pd.Series(params)
    expected = fitter.conditional_expected_number_of_purchases_up_to_time(
        weeks, summary["frequency"], summary["recency"], summary["T"]
    )
    return float(np.sum(expected))


def test_a_history_longer_than_a_year_keeps_every_customer(cdnow_run: CdnowRun) -> None:
    """Fitted to the end of the master file (18 months), every customer is still fitted, with
    T counted from the first purchase ever: no history window drops the customers who had not
    bought in the last 12 months (15,238 of 23,570 here) or restarts their age."""
    from windmaker.services.models import fit_clv

    raw, settings = cdnow_run.raw, cdnow_run.settings
    config = clv.load_models_config(settings.config_dir).clv
    with open_warehouse(settings) as wh:
        table = fit_clv(wh, config, HOLDOUT_END, progress=lambda _done, _total: None)
        buyers = wh.execute(wh.table(CLV_BUYERS))
    first = raw.groupby("customer_id")["date"].min()
    last = raw.groupby("customer_id")["date"].max()
    window_start = pd.Timestamp(HOLDOUT_END) - pd.DateOffset(months=12) + pd.Timedelta(days=1)
    assert int((last < window_start).sum()) == 15_238  # buyers a 12-month window would drop
    assert int(table["buyers"].iloc[0]) == len(buyers) == raw["customer_id"].nunique()
    ages = (pd.Timestamp(HOLDOUT_END) - first).dt.days / 7
    ours = buyers.assign(customer_id=buyers["buyer_id"].astype(int)).set_index("customer_id")
    np.testing.assert_allclose(ours.loc[ages.index, "T"], ages, rtol=0, atol=1e-9)
