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
