"""``windmaker ingest`` exit codes and summary."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from tests.ingest import factory
from tests.ingest.helpers import rows
from windmaker.cli.main import app
from windmaker.config import Settings

runner = CliRunner()


def _run(settings: Settings, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["ingest", *args, "--workspace", str(settings.workspace), "--no-progress"]
    )
    return result.exit_code, result.output


def test_exit_0_when_every_row_lands(seeded: Settings, tmp_path: Path) -> None:
    path = factory.write_csv(tmp_path / "o.csv", factory.ORDERS_ZH, [factory.order_row("O1")])
    code, out = _run(seeded, str(path), "--table", "orders")
    assert code == 0, out
    assert "o.csv" in out and "orders" in out
    assert rows(seeded, "SELECT count(*) FROM orders") == [(1,)]


def test_exit_3_when_rows_are_quarantined(seeded: Settings, tmp_path: Path) -> None:
    path = factory.write_csv(
        tmp_path / "o.csv",
        factory.ORDERS_ZH,
        [factory.order_row("O1"), factory.order_row("O2", brand="B9")],
    )
    code, out = _run(seeded, str(path))
    assert code == 3, out
    assert "column brand_id ×1" in out
    (q,) = (seeded.quarantine_path).glob("*.csv")
    assert "B9" in q.read_text(encoding="utf-8")
    assert rows(seeded, "SELECT order_id FROM orders") == [("O1",)]


def test_exit_2_on_a_missing_required_column_and_nothing_written(
    seeded: Settings, tmp_path: Path
) -> None:
    header = [h for h in factory.ORDERS_ZH if h != "买家ID"]
    row = [
        v for h, v in zip(factory.ORDERS_ZH, factory.order_row("O1"), strict=True) if h != "买家ID"
    ]
    path = factory.write_csv(tmp_path / "no_buyer.csv", header, [row])
    code, out = _run(seeded, str(path), "--table", "orders")
    assert code == 2
    assert "no_buyer.csv" in out and "buyer_id (买家ID)" in out
    assert rows(seeded, "SELECT count(*) FROM orders") == [(0,)]


def test_exit_2_on_a_bad_money_unit(seeded: Settings, tmp_path: Path) -> None:
    path = factory.write_csv(tmp_path / "o.csv", factory.ORDERS_ZH, [factory.order_row("O1")])
    code, out = _run(seeded, str(path), "--money-unit", "jiao")
    assert code == 2 and "yuan or fen" in out


def test_progress_bar_does_not_disturb_the_import(seeded: Settings, tmp_path: Path) -> None:
    path = factory.write_many_orders(tmp_path / "many.csv", 20_000)
    result = runner.invoke(app, ["ingest", str(path), "--workspace", str(seeded.workspace)])
    assert result.exit_code == 0, result.output
    assert rows(seeded, "SELECT count(*), sum(amount) FROM orders") == [
        (20_000, sum(Decimal(f"{i % 500}.25") for i in range(20_000)))
    ]
