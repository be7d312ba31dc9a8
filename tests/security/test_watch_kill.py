"""``windmaker serve --watch DIR`` killed with SIGKILL mid-file, restarted, and every file dropped
into the inbox lands exactly once.

Three kills, each followed by a restart: at the ``commit`` fault point inside the first file's
ingest (nothing of it committed: it is ingested again), at ``run.diagnosis`` inside the main
job after that file's ingest committed (it is recovered: not ingested again, but diagnosed),
and a plain SIGKILL sent while a large file is being ingested. Files are dropped into the inbox
while the server runs, the way a copier lands them (written under a ``.part`` name, then
renamed). At the end every file is in ``done/`` once, the orders table holds each file's order
ids once, and the diagnosis has seen every order. The market is the fault tests'
(``tests/security/conftest.py``); traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from tests.security.test_serve_kill import _free_port, _scratch, _server, served  # noqa: F401
from tests.services.test_watch import diagnosis_state, order_ids
from windmaker import results
from windmaker.config import Settings
from windmaker.workspace import open_warehouse

#: Copies of one day's orders (new ids) in the file that is killed while it is ingested.
COPIES = 1500


def _day(new_orders: Path, day: int, copies: int = 1) -> pd.DataFrame:
    """The held-back orders of the ``day``-th new day, ``copies`` times under new order ids."""
    orders = pd.read_parquet(new_orders)
    days = sorted(orders["paid_at"].dt.normalize().unique())
    rows = orders[orders["paid_at"].dt.normalize() == days[day]].reset_index(drop=True)
    if copies == 1:
        return rows
    parts = []
    for k in range(copies):
        part = rows.copy()
        part["order_id"] = part["order_id"] + f"-c{k}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _drop(inbox: Path, name: str, rows: pd.DataFrame) -> None:
    """Land a file the way a copier does: written under a partial name, then renamed."""
    partial = inbox / f"{name}.part"
    rows.to_parquet(partial, index=False)
    os.replace(partial, inbox / name)


def _serve_until_killed(settings: Settings, inbox: Path, fault: str) -> None:
    """``windmaker serve --watch`` that kills itself at ``fault`` (the inbox already holds the
    file it dies on, so there is no wait for it to answer first)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDMAKER_")}
    env["WINDMAKER_FAULT_AT"] = fault
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "windmaker.cli.main",
            "serve",
            "--workspace",
            str(settings.workspace),
            "--watch",
            str(inbox),
            "--host",
            "127.0.0.1",
            "--port",
            str(_free_port()),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        code = proc.wait(180)
        err = (proc.stderr.read() if proc.stderr else b"").decode()[-2000:]
        assert code == -signal.SIGKILL, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def _wait_done(inbox: Path, names: list[str], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 240
    while not all((inbox / "done" / f"{n}.report.json").exists() for n in names):
        assert proc.poll() is None, "the server stopped"
        assert time.monotonic() < deadline, sorted(p.name for p in inbox.rglob("*"))
        time.sleep(0.2)


def test_files_land_exactly_once_across_kills(
    served: Settings,  # noqa: F811
    template: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "done").mkdir(parents=True)
    files = {
        "a.parquet": _day(template[1], 0),
        "b.parquet": _day(template[1], 1, copies=COPIES),
        "c.parquet": _day(template[1], 2),
        "d.parquet": _day(template[1], 3),
    }
    before = diagnosis_state(served)

    # 1. killed inside a's ingest, before it commits: nothing of it lands, it stays
    _drop(inbox, "a.parquet", files["a.parquet"])
    _serve_until_killed(served, inbox, "commit")
    assert (inbox / "a.parquet").exists()
    assert (order_ids(served, files["a.parquet"]["order_id"]) == 0).all()

    # 2. killed inside the main job, after a's ingest committed: its rows are in, undiagnosed
    _serve_until_killed(served, inbox, "run.diagnosis")
    assert (inbox / "a.parquet").exists()
    assert not (inbox / "done" / "a.parquet").exists()
    assert (order_ids(served, files["a.parquet"]["order_id"]) == 1).all()
    assert diagnosis_state(served) == before

    # 3. restarted: a is recovered; b dropped while it runs and killed while it is ingested
    with _server(served, options=("--watch", str(inbox))) as (proc, _url):
        _wait_done(inbox, ["a.parquet"], proc)
        assert _scratch(served) == []
        _drop(inbox, "b.parquet", files["b.parquet"])
        deadline = time.monotonic() + 120
        while not _scratch(served):  # the ingest's scratch folder: b is being loaded
            assert time.monotonic() < deadline, "b was never taken"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    assert (inbox / "b.parquet").exists()
    assert order_ids(served, files["b.parquet"]["order_id"]).nunique() == 1  # all or none

    # 4. restarted: b lands, c and d dropped while it runs land too
    with _server(served, options=("--watch", str(inbox))) as (proc, _url):
        _drop(inbox, "c.parquet", files["c.parquet"])
        time.sleep(0.3)
        _drop(inbox, "d.parquet", files["d.parquet"])
        _wait_done(inbox, list(files), proc)

    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == []
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == []
    assert sorted(p.name for p in (inbox / "done").iterdir()) == sorted(
        [*files, *(f"{n}.report.json" for n in files)]
    )
    reports = {
        n: json.loads((inbox / "done" / f"{n}.report.json").read_text(encoding="utf-8"))
        for n in files
    }
    assert reports["a.parquet"]["recovered"] is True
    for name, rows in files.items():
        assert reports[name]["accepted"] == len(rows), name
        assert reports[name]["diagnosed_at"] is not None, name
        assert (order_ids(served, rows["order_id"]) == 1).all(), name
    # the diagnosis has seen every order: the refresh's bookkeeping counts them all, and the
    # last diagnosed day is the last day dropped
    with open_warehouse(served) as wh:
        orders = int(wh.execute(wh.table("orders").count()))
        state = wh.to_arrow(wh.table(results.REFRESH_STATE)).to_pandas().set_index("source")
    assert int(state.loc["orders", "rows"]) == orders
    after = diagnosis_state(served)
    assert after["day"] == files["d.parquet"]["paid_at"].max().date()
    assert after["as_of"] > before["as_of"]
