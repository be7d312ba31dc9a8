"""The inbox loop (``windmaker watch``): one pass at a time, without threads.

Known answers on the fault tests' small market (its last days of orders held back): a day's
orders dropped into the inbox land in ``done/`` with a report, their rows reach the warehouse
and the diagnosis moves to that day; a bad row is quarantined with its reason while the rest
lands; a refused file goes to ``failed/`` with the reason in words and does not hold back the
good file of the same pass; a file still growing is not taken; the same bytes dropped again
change nothing; a file the warehouse loaded but that was never moved is recovered, not loaded
twice, and the diagnosis catches up.
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.security.conftest import template, ws  # noqa: F401  (the fault tests' market)
from tests.security.test_faults import _orders
from windmaker import results
from windmaker.config import Settings
from windmaker.services.ingest import ingest
from windmaker.services.watch import Inbox, PassResult, process, watch_once
from windmaker.workspace import open_warehouse


def day_file(new_orders: Path, day: int, target: Path, bad_rows: int = 0) -> pd.DataFrame:
    """Write the held-back orders of the ``day``-th new day (0-based) to ``target`` (Parquet);
    ``bad_rows`` of them get a traffic source the contract does not know. Returns the rows."""
    orders = pd.read_parquet(new_orders)
    days = sorted(orders["paid_at"].dt.normalize().unique())
    rows = orders[orders["paid_at"].dt.normalize() == days[day]].reset_index(drop=True)
    if bad_rows:
        rows.loc[: bad_rows - 1, "traffic_source"] = "teleport"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows.to_parquet(target, index=False)
    return rows


def diagnosis_state(settings: Settings) -> dict[str, Any]:
    """The last day of ``m_brand_day`` and the latest as-of of ``g_stage``."""
    with open_warehouse(settings) as wh:
        day = wh.execute(wh.table(results.BRAND_DAY).period.max())
        as_of = wh.execute(wh.table(results.STAGE).as_of.max())
    return {"day": pd.Timestamp(day).date(), "as_of": pd.Timestamp(as_of)}


def order_ids(settings: Settings, ids: pd.Series) -> pd.Series:
    """How many times each of ``ids`` is in the warehouse's orders."""
    with open_warehouse(settings) as wh:
        got = wh.to_arrow(wh.table("orders").select("order_id")).to_pandas()["order_id"]
    counts = got[got.isin(set(ids))].value_counts()
    return counts.reindex(ids, fill_value=0)


def one_pass(settings: Settings, inbox: Path) -> PassResult:
    return watch_once(settings, inbox, settle=0.05)


def report_of(folder: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((folder / f"{name}.report.json").read_text(encoding="utf-8")))


def test_a_new_day_lands_in_done_and_the_diagnosis_moves_to_it(
    ws: Settings,  # noqa: F811
    template: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    rows = day_file(template[1], 0, inbox / "day1.parquet")
    new_day: date = rows["paid_at"].max().date()
    before = diagnosis_state(ws)
    assert before["day"] < new_day

    out = one_pass(ws, inbox)

    assert out.ran_main_job and out.error is None and out.failed == 0
    assert not (inbox / "day1.parquet").exists()
    assert (inbox / "done" / "day1.parquet").exists()
    report = report_of(inbox / "done", "day1.parquet")
    assert report["outcome"] == "done" and report["table"] == "orders"
    assert report["accepted"] == len(rows) and report["quarantined"] == 0
    assert report["recovered"] is False and report["reason"] is None
    assert report["diagnosed_at"] >= report["landed_at"]
    assert report["seconds_to_diagnosed"] >= 0
    assert (order_ids(ws, rows["order_id"]) == 1).all()
    after = diagnosis_state(ws)
    assert after["day"] == new_day
    assert after["as_of"] > before["as_of"]


def test_a_bad_row_is_quarantined_and_the_rest_lands(
    ws: Settings,  # noqa: F811
    template: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    rows = day_file(template[1], 1, inbox / "day2.parquet", bad_rows=1)

    out = one_pass(ws, inbox)

    report = report_of(inbox / "done", "day2.parquet")
    assert out.ran_main_job
    assert (report["accepted"], report["quarantined"]) == (len(rows) - 1, 1)
    assert "traffic_source" in report["quarantine_reasons"][0]["reason"]
    assert Path(report["quarantine_file"]).exists()
    counts = order_ids(ws, rows["order_id"])
    assert counts.iloc[0] == 0 and (counts.iloc[1:] == 1).all()


def test_a_refused_file_goes_to_failed_and_does_not_block_the_others(
    ws: Settings,  # noqa: F811
    template: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    whole = gzip.compress(b"order_id,paid_at,brand_id\n" + b"O1,2026-01-01,B1\n" * 5000)
    (inbox / "cut.csv.gz").write_bytes(whole[: len(whole) // 2])
    (inbox / "mystery.csv").write_text("colour,size\nred,9\n", encoding="utf-8")
    rows = day_file(template[1], 2, inbox / "day3.parquet")
    before_orders = _orders(ws)

    out = one_pass(ws, inbox)

    assert out.failed == 2 and out.ran_main_job
    for name, words in (
        ("cut.csv.gz", "not a readable gzip file"),
        ("mystery.csv", "cannot tell which table"),
    ):
        assert (inbox / "failed" / name).exists()
        report = report_of(inbox / "failed", name)
        assert report["outcome"] == "failed" and report["accepted"] == 0
        assert report["reason"].startswith(name) and words in report["reason"], report["reason"]
        assert report["diagnosed_at"] is None
    assert report_of(inbox / "done", "day3.parquet")["accepted"] == len(rows)
    assert _orders(ws) == before_orders + len(rows)


def test_a_file_still_growing_is_not_taken(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox")
    growing = inbox.folder / "orders.csv"
    growing.write_text("order_id\n", encoding="utf-8")
    (inbox.folder / "orders2.csv.part").write_text("order_id\n", encoding="utf-8")
    (inbox.folder / ".hidden.csv").write_text("order_id\n", encoding="utf-8")
    (inbox.folder / "sub").mkdir()
    assert inbox.poll() == []  # first seen
    with growing.open("a", encoding="utf-8") as fh:
        fh.write("O1\n")
    stamp = growing.stat().st_mtime_ns + 1_000_000
    os.utime(growing, ns=(stamp, stamp))
    assert inbox.poll() == [] and inbox.pending  # it changed since
    ready = inbox.poll()  # held still
    assert [r.path.name for r in ready] == ["orders.csv"]
    growing.unlink()  # what a pass does: it moves the file away
    assert inbox.poll() == [] and not inbox.pending  # the partial and hidden files never


def test_the_same_bytes_dropped_again_are_not_ingested_twice(
    ws: Settings,  # noqa: F811
    template: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    rows = day_file(template[1], 0, inbox / "day1.parquet")
    assert one_pass(ws, inbox).ran_main_job
    once = _orders(ws)
    day_file(template[1], 0, inbox / "day1.parquet")

    out = one_pass(ws, inbox)

    assert not out.ran_main_job
    assert (inbox / "done" / "day1.parquet").exists()
    again = report_of(inbox / "done", "day1-1.parquet")
    assert again["accepted"] == 0 and again["recovered"] is False
    assert again["note"].startswith("already imported")
    assert _orders(ws) == once
    assert (order_ids(ws, rows["order_id"]) == 1).all()


def test_a_file_loaded_but_never_moved_is_recovered_once(
    ws: Settings,  # noqa: F811
    template: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    """What a kill between the ingest's commit and the move leaves: the rows in the
    warehouse, the file in the inbox, the diagnosis behind."""
    inbox = tmp_path / "inbox"
    rows = day_file(template[1], 3, inbox / "day4.parquet")
    ingest(ws, [inbox / "day4.parquet"])
    before = diagnosis_state(ws)
    assert before["day"] < rows["paid_at"].max().date()

    out = one_pass(ws, inbox)

    assert out.ran_main_job
    report = report_of(inbox / "done", "day4.parquet")
    assert report["recovered"] is True and report["accepted"] == len(rows)
    assert report["seconds_to_diagnosed"] is not None
    assert (order_ids(ws, rows["order_id"]) == 1).all()
    assert diagnosis_state(ws)["day"] == rows["paid_at"].max().date()


def test_a_stopped_pass_leaves_the_untaken_files_in_the_inbox(
    ws: Settings,  # noqa: F811
    template: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    import threading

    box = Inbox(tmp_path / "inbox")
    day_file(template[1], 0, box.folder / "a.parquet")
    day_file(template[1], 1, box.folder / "b.parquet")
    box.poll()
    ready = box.poll()
    stop = threading.Event()
    seen: list[str] = []

    def on_event(event: Any) -> None:
        if event.kind == "taken":
            seen.append(event.file)
            stop.set()  # Ctrl-C while the first file is being ingested

    out = process(ws, box, ready, on_event=on_event, stop=stop)

    assert len(seen) == 1 and len(out.files) == 1 and len(out.left) == 1
    assert out.ran_main_job
    assert (box.done / seen[0]).exists() and (box.folder / out.left[0]).exists()


@pytest.mark.parametrize("bad", [False, True])
def test_watch_once_on_the_command_line(
    ws: Settings,  # noqa: F811
    template: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
    bad: bool,
) -> None:
    from windmaker.cli.main import app

    inbox = tmp_path / "inbox"
    rows = day_file(template[1], 0, inbox / "day1.parquet")
    if bad:
        (inbox / "mystery.csv").write_text("colour\nred\n", encoding="utf-8")
    shown = CliRunner().invoke(
        app, ["watch", str(inbox), "--once", "--workspace", str(ws.workspace)]
    )
    assert shown.exit_code == (1 if bad else 0), shown.output
    assert "day1.parquet → orders" in shown.output
    assert f"{len(rows):,} rows accepted" in shown.output
    assert ("failed" in shown.output) is bad
