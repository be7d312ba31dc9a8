"""A crash mid-import leaves the warehouse as it was: real subprocesses, killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.ingest import factory
from tests.ingest.helpers import rows
from windmaker.config import Settings
from windmaker.ingest import LOG_TABLE, ingest_files
from windmaker.ingest.loader import remove_stale_scratch

# Pauses inside the transaction after the file's rows were deleted and inserted, before COMMIT,
# and says so on stdout: the test kills it there, at the worst possible moment.
PAUSING_IMPORT = """
import sys, time
from pathlib import Path
from windmaker.config import load_settings
from windmaker.ingest import ingest_files

def on_event(name, path):
    if name == "merged":
        print("MERGED", flush=True)
        time.sleep(120)

ingest_files(load_settings(Path(sys.argv[1])), [Path(sys.argv[2])], progress=False, on_event=on_event)
"""


def _state(settings: Settings) -> tuple[object, ...]:
    return (
        rows(settings, "SELECT * FROM orders ORDER BY order_id"),
        rows(settings, f"SELECT file, sha256 FROM {LOG_TABLE} ORDER BY 1"),
    )


def _big_orders(path: Path, n: int) -> Path:
    """n orders; the first ten replace the base file's rows with new amounts."""
    return factory.write_many_orders(path, n)


def _with_base(seeded: Settings, tmp_path: Path) -> tuple[object, ...]:
    base = factory.write_csv(
        tmp_path / "base.csv", factory.ORDERS_ZH, [factory.order_row(f"O{i}") for i in range(10)]
    )
    assert ingest_files(seeded, [base], progress=False).accepted == 10
    return _state(seeded)


def test_kill_after_rows_were_written_before_commit(seeded: Settings, tmp_path: Path) -> None:
    before = _with_base(seeded, tmp_path)
    big = _big_orders(tmp_path / "big.csv", 5_000)
    script = tmp_path / "pausing_import.py"
    script.write_text(PAUSING_IMPORT, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(seeded.workspace), str(big)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "MERGED"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _state(seeded) == before
    # And the same file imports cleanly afterwards.
    assert ingest_files(seeded, [big], progress=False).files[0].replaced == 10
    assert rows(seeded, "SELECT count(*) FROM orders") == [(5_000,)]


def test_kill_the_cli_while_it_stages(seeded: Settings, tmp_path: Path) -> None:
    before = _with_base(seeded, tmp_path)
    big = _big_orders(tmp_path / "big.csv", 200_000)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "windmaker.cli.main",
            "ingest",
            str(big),
            "--no-progress",
            "--workspace",
            str(seeded.workspace),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The import's scratch folder appears in the workspace once the batch has started.
        deadline = time.monotonic() + 60
        while not list(seeded.workspace.glob(".ingest-*")):
            assert proc.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(0.15)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _state(seeded) == before
    # The killed import's scratch folder is still there; the next import clears it away.
    left = list(seeded.workspace.glob(".ingest-*"))
    assert left, "the killed import left no scratch folder to clear"
    again = factory.write_csv(tmp_path / "again.csv", factory.ORDERS_ZH, [factory.order_row("O1")])
    ingest_files(seeded, [again], progress=False)
    assert not any(p.exists() for p in left)


def test_only_scratch_of_dead_imports_is_removed(tmp_path: Path) -> None:
    live = tmp_path / f".ingest-{os.getpid()}-abc"
    dead = tmp_path / ".ingest-999999999-def"
    old = tmp_path / ".ingest-k2j_x9a"  # named before scratch folders carried a process id
    other = tmp_path / "keep-me"
    for folder in (live, dead, old, other):
        folder.mkdir()
    assert sorted(remove_stale_scratch(tmp_path)) == sorted([dead, old])
    assert live.exists() and other.exists() and not dead.exists() and not old.exists()
