"""``windmaker simulate`` on the command line: formats, the summary, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from windmaker import contract
from windmaker.cli.main import app

runner = CliRunner()


def test_simulate_writes_csv_with_the_contract_headers(tmp_path: Path) -> None:
    out = tmp_path / "m"
    result = runner.invoke(
        app, ["simulate", "--out", str(out), "--brands", "8", "--months", "2", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert "orders" in result.output
    for tbl in contract.TABLES:
        df = pd.read_csv(out / f"{tbl.name}.csv", nrows=5)
        assert list(df.columns) == list(tbl.column_names)
    orders = pd.read_csv(out / "orders.csv")
    assert len(orders) > 100
    assert pd.to_datetime(orders["paid_at"]).min() >= pd.Timestamp("2026-09-01")
    assert (out / "truth" / "brand_month.parquet").is_file()


def test_simulate_writes_xlsx_for_a_small_market(tmp_path: Path) -> None:
    out = tmp_path / "x"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--out",
            str(out),
            "--brands",
            "3",
            "--months",
            "1",
            "--format",
            "xlsx",
            "--end",
            "2026-03",
        ],
    )
    assert result.exit_code == 0, result.output
    brands = pd.read_excel(out / "brands.xlsx")
    assert list(brands.columns) == list(contract.BRANDS.column_names)
    assert len(brands) == 3
    orders = pd.read_excel(out / "orders.xlsx")
    assert pd.to_datetime(orders["paid_at"]).dt.month.eq(3).all()


def test_simulate_refuses_a_bad_format_and_a_bad_month(tmp_path: Path) -> None:
    bad_format = runner.invoke(app, ["simulate", "--out", str(tmp_path / "a"), "--format", "json"])
    assert bad_format.exit_code == 2
    bad_month = runner.invoke(
        app, ["simulate", "--out", str(tmp_path / "b"), "--brands", "2", "--end", "2026-13"]
    )
    assert bad_month.exit_code == 2
    assert not (tmp_path / "b" / "orders.parquet").exists()


def test_simulate_an_export_cut_mid_month_with_small_categories(tmp_path: Path) -> None:
    """``--end YYYY-MM-DD``: nothing after the day is exported, and an order shipped or refunded
    after it is exported as it stood (not yet shipped, not yet refunded)."""
    out = tmp_path / "cut"
    args = ["simulate", "--out", str(out), "--brands", "30", "--months", "3", "--seed", "2"]
    args += ["--end", "2026-10-16", "--category-brands", "sports=3", "--rings", "none"]
    args += ["--small-category-leaders"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    orders = pd.read_parquet(out / "orders.parquet")
    end = pd.Timestamp("2026-10-17")
    assert orders.paid_at.max() < end and orders.paid_at.max() >= pd.Timestamp("2026-10-16")
    assert not (orders.shipped_at >= end).any() and not (orders.refunded_at >= end).any()
    late = orders[(orders.paid_at >= pd.Timestamp("2026-10-15")) & orders.shipped_at.isna()]
    assert len(late) > 0 and set(late.status) <= {"paid", "cancelled"}
    for name, col in (("live_sessions", "started_at"), ("reviews", "created_at")):
        assert pd.read_parquet(out / f"{name}.parquet")[col].max() < end
    brands = pd.read_parquet(out / "brands.parquet")
    assert (brands.category == "sports").sum() == 3
    assert (
        not (out / "truth" / "brushing_rings.parquet").exists()
        or pd.read_parquet(out / "truth" / "brushing_rings.parquet").empty
    )
    truth = pd.read_parquet(out / "truth" / "brand_month.parquet")
    assert pd.Timestamp(truth.month.max()) == pd.Timestamp("2026-10-01")


def test_simulate_refuses_a_malformed_category_size(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["simulate", "--out", str(tmp_path / "x"), "--category-brands", "sports"]
    )
    assert result.exit_code == 2
    assert "CATEGORY=N" in result.output
