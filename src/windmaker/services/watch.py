"""The inbox loop: files dropped into a folder are ingested, refreshed and diagnosed.

A watched folder ``DIR`` receives files; the loop keeps ``DIR/done/`` and ``DIR/failed/``. A
file is taken once its size and modification time held still between two polls (a copy still
being written is left alone; hidden files, sub-folders and names ending ``.part``, ``.tmp``,
``.crdownload`` or ``.partial`` are never taken). Each pass ingests every ready file as its own
batch (:func:`windmaker.services.ingest.ingest`), runs the main job once when any file loaded
rows (:func:`windmaker.services.run.run_pipeline`), then moves each file to ``done/`` or
``failed/`` with ``<name>.report.json`` beside it.

Exactly once across kills, because the warehouse is the truth: a file whose ingest did not
commit is still in the inbox and is ingested again; a file whose ingest committed (its SHA-256
is in ``_ingest_log``) but that was never moved is *recovered*: not ingested again, but the main
job runs so the diagnosis has seen its rows, and its report says so. The same bytes dropped
again after they reached ``done/`` change nothing and start no main job.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from windmaker.config import Settings
from windmaker.ingest import LOG_TABLE, IngestError
from windmaker.ingest.loader import sha256_file
from windmaker.services.identity import Principal, workspace_admin
from windmaker.services.ingest import ingest
from windmaker.services.jobs import Jobs
from windmaker.services.jobs import Progress as JobProgress
from windmaker.services.run import run_pipeline
from windmaker.workspace import open_warehouse

log = logging.getLogger(__name__)

DONE = "done"
FAILED = "failed"
#: Names of files still being written by their copier: never taken.
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")
REPORT_SUFFIX = ".report.json"
#: Seconds between the two polls that show a new file holding still (at most the interval).
SETTLE_SECONDS = 0.5
#: The job kind of a pass on a server (shown on the data page).
JOB_KIND = "watch"

Outcome = Literal["done", "failed"]


@dataclass(frozen=True)
class Landed:
    """A file ready to be taken, and when it landed: its modification time, held between the
    poll before the file was first seen and that first sighting (a copy that kept an old
    modification time landed when it appeared)."""

    path: Path
    landed_at: datetime


@dataclass(frozen=True)
class FileReport:
    """What became of one file: written beside it as ``<name>.report.json``.

    ``recovered`` is set for a file the warehouse had already loaded but that was never moved
    (a pass stopped between the two, or an earlier import by other means): the main job made
    sure the diagnosis saw it. ``reason`` is the refusal, in words, of a file in ``failed/``.
    """

    file: str
    outcome: Outcome
    moved_to: str
    sha256: str | None
    table: str | None
    rows: int = 0
    accepted: int = 0
    quarantined: int = 0
    quarantine_file: str | None = None
    quarantine_reasons: tuple[tuple[str, int], ...] = ()
    reason: str | None = None
    note: str | None = None
    recovered: bool = False
    landed_at: str | None = None
    diagnosed_at: str | None = None
    seconds_to_diagnosed: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["quarantine_reasons"] = [{"reason": r, "rows": n} for r, n in self.quarantine_reasons]
        return out


@dataclass(frozen=True)
class PassResult:
    """One pass: the files it moved, whether it ran the main job and what that said."""

    files: tuple[FileReport, ...] = ()
    ran_main_job: bool = False
    main_job: dict[str, Any] | None = None
    error: str | None = None
    left: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> int:
        return sum(f.outcome == FAILED for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        """A job's result: the data page shows ``file``; the rest is for the API."""
        return {
            "file": ", ".join(f.file for f in self.files),
            "accepted": sum(f.accepted for f in self.files),
            "quarantined": sum(f.quarantined for f in self.files),
            "failed": self.failed,
            "main_job": self.main_job,
            "error": self.error,
            "files": [f.as_dict() for f in self.files],
        }


@dataclass(frozen=True)
class WatchEvent:
    """What the loop tells its caller: ``taken`` (a file's ingest starts), ``main_job`` (the
    main job starts), ``moved`` (with the file's report), ``error`` (a pass-level problem, in
    words; the files stay for the next pass)."""

    kind: Literal["taken", "main_job", "moved", "error"]
    file: str | None = None
    report: FileReport | None = None
    message: str | None = None


OnEvent = Callable[[WatchEvent], None]


def _quiet(_event: WatchEvent) -> None:
    return None


def is_candidate(path: Path) -> bool:
    """Whether ``path`` is a file the loop may take (not hidden, not partial, not a folder)."""
    name = path.name
    if name.startswith(".") or name.lower().endswith(PARTIAL_SUFFIXES):
        return False
    return path.is_file() and not path.is_symlink()


class Inbox:
    """A watched folder and what its polls have seen (size and modification time per file)."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.done = self.folder / DONE
        self.failed = self.folder / FAILED
        self.done.mkdir(parents=True, exist_ok=True)
        self.failed.mkdir(parents=True, exist_ok=True)
        self._seen: dict[str, tuple[int, int]] = {}
        self._first_seen: dict[str, tuple[datetime, datetime | None]] = {}
        self._last_poll: datetime | None = None
        _finish_reports(self.done)
        _finish_reports(self.failed)

    @property
    def pending(self) -> bool:
        """Whether a file was seen that has not held still yet (the loop polls again soon)."""
        return bool(self._seen)

    def poll(self) -> list[Landed]:
        """The files that held still since the previous poll, oldest first; a file seen for the
        first time, or changed since, waits for the next poll."""
        now = datetime.now().astimezone()
        current: dict[str, tuple[int, int]] = {}
        for entry in os.scandir(self.folder):
            path = Path(entry.path)
            if not is_candidate(path):
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            current[entry.name] = (st.st_size, st.st_mtime_ns)
        ready: list[tuple[int, str, Landed]] = []
        for name, sig in current.items():
            # (first seen, the poll before it): the file landed between the two
            self._first_seen.setdefault(name, (now, self._last_poll))
            if self._seen.get(name) == sig:
                first, before = self._first_seen[name]
                landed = min(datetime.fromtimestamp(sig[1] / 1e9).astimezone(), first)
                if before is not None:
                    landed = max(landed, before)
                ready.append((sig[1], name, Landed(self.folder / name, landed)))
        taken = {name for _, name, _ in ready}
        self._seen = {n: s for n, s in current.items() if n not in taken}
        self._first_seen = {n: t for n, t in self._first_seen.items() if n in self._seen}
        self._last_poll = now
        return [landed for *_, landed in sorted(ready, key=lambda r: (r[0], r[1]))]


def _finish_reports(folder: Path) -> None:
    """Give a report its name when a kill came between moving its file and naming it."""
    for tmp in folder.glob(f".*{REPORT_SUFFIX}.part"):
        final = folder / tmp.name[1:].removesuffix(".part")
        moved = folder / final.name.removesuffix(REPORT_SUFFIX)
        if moved.exists() and not final.exists():
            os.replace(tmp, final)
        else:
            tmp.unlink(missing_ok=True)


def _unique(folder: Path, name: str) -> Path:
    """``folder/name``, or ``stem-N.ext`` when that name (or its report) is taken."""
    stem, dot, ext = name.partition(".")
    candidate, n = folder / name, 0
    while candidate.exists() or (folder / (candidate.name + REPORT_SUFFIX)).exists():
        n += 1
        candidate = folder / f"{stem}-{n}{dot}{ext}"
    return candidate


def _imported(settings: Settings, digest: str) -> dict[str, Any] | None:
    """What ``_ingest_log`` recorded for a file with this SHA-256, or None (never loaded)."""
    with open_warehouse(settings) as wh:
        if wh.engine != "duckdb" or LOG_TABLE not in wh.tables():
            return None
        row = wh.duckdb.execute(
            f'SELECT "table", rows, rows_accepted, rows_rejected, quarantine, "at" '
            f'FROM {LOG_TABLE} WHERE sha256 = ? ORDER BY "at" DESC LIMIT 1',
            [digest],
        ).fetchone()
    if row is None:
        return None
    keys = ("table", "rows", "accepted", "quarantined", "quarantine", "at")
    return dict(zip(keys, row, strict=True))


def _moved_before(inbox: Inbox, digest: str) -> bool:
    """Whether a report in ``done/`` already names these bytes (a second drop of a file)."""
    for report in inbox.done.glob(f"*{REPORT_SUFFIX}"):
        with contextlib.suppress(OSError, ValueError):
            if json.loads(report.read_text(encoding="utf-8")).get("sha256") == digest:
                return True
    return False


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="milliseconds") if at is not None else None


def _take(settings: Settings, inbox: Inbox, landed: Landed, actor: Principal) -> FileReport:
    """Ingest one file as its own batch; the report says where it goes (not yet moved)."""
    path = landed.path
    digest = sha256_file(path)
    base = FileReport(
        file=path.name,
        outcome="done",
        moved_to="",
        sha256=digest,
        table=None,
        landed_at=_iso(landed.landed_at),
    )
    before = _imported(settings, digest)
    if before is not None:
        again = _moved_before(inbox, digest)
        loaded_at = before["at"]
        return replace(
            base,
            table=before["table"],
            rows=int(before["rows"] or 0),
            accepted=0 if again else int(before["accepted"] or 0),
            quarantined=0 if again else int(before["quarantined"] or 0),
            quarantine_file=None if again else before["quarantine"],
            recovered=not again,
            note=(
                f"already imported at {loaded_at:%Y-%m-%d %H:%M:%S}; nothing changed"
                if again
                else f"loaded at {loaded_at:%Y-%m-%d %H:%M:%S} but not moved then: recovered"
            ),
        )
    try:
        report = ingest(settings, [path], actor=actor).files[0]
    except IngestError as exc:
        return replace(base, outcome="failed", reason=str(exc))
    return replace(
        base,
        table=report.table,
        rows=report.rows,
        accepted=report.accepted,
        quarantined=report.rejected,
        quarantine_file=str(report.quarantine) if report.quarantine else None,
        quarantine_reasons=report.reasons,
        note=report.note,
    )


def _move(inbox: Inbox, path: Path, report: FileReport) -> FileReport:
    """Move ``path`` to ``done/`` or ``failed/`` under a name not yet taken, report beside it.

    The report is written under a hidden name first and named after the move, so a kill never
    leaves a named report for a file still in the inbox.
    """
    target = _unique(inbox.done if report.outcome == "done" else inbox.failed, path.name)
    report = replace(report, moved_to=f"{target.parent.name}/{target.name}")
    tmp = target.parent / f".{target.name}{REPORT_SUFFIX}.part"
    tmp.write_text(
        json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    os.replace(path, target)
    os.replace(tmp, target.parent / f"{target.name}{REPORT_SUFFIX}")
    return report


def process(
    settings: Settings,
    inbox: Inbox,
    ready: Sequence[Landed],
    *,
    actor: Principal | None = None,
    on_event: OnEvent | None = None,
    stop: threading.Event | None = None,
    after_run: Callable[[], None] | None = None,
    progress: JobProgress | None = None,
) -> PassResult:
    """One pass over ``ready`` files (from :meth:`Inbox.poll`), in order.

    Each file is its own batch, so a refused file never blocks the others. When any file loaded
    rows, or was recovered, the main job runs once (``after_run`` then follows it: a server
    reloads its read model); only then are the files moved, so a kill before that leaves them
    in the inbox for the next pass. With ``stop`` set, the pass ends after the current file.
    If the main job fails, the loaded files stay in the inbox (recovered on the next pass) and
    the result carries the error.
    """
    actor = actor or workspace_admin("watch")
    tell = on_event or _quiet
    step = progress or (lambda _f, _s: None)
    taken: list[tuple[Landed, FileReport]] = []
    for i, landed in enumerate(ready):
        if stop is not None and stop.is_set():
            break
        if not landed.path.exists():
            continue
        tell(WatchEvent("taken", file=landed.path.name))
        step(0.8 * i / max(len(ready), 1), "loading")  # a job's stages are catalogue codes
        taken.append((landed, _take(settings, inbox, landed, actor)))
    names = {landed.path.name for landed, _ in taken}
    left = tuple(lnd.path.name for lnd in ready if lnd.path.name not in names and lnd.path.exists())
    loaded = [(lnd, r) for lnd, r in taken if _needs_diagnosis(r)]
    main_job: dict[str, Any] | None = None
    if loaded:
        tell(WatchEvent("main_job"))
        step(0.8, "diagnosis")
        try:
            main_job = run_pipeline(settings).as_dict()
        except Exception:
            # The engine's own text stays in the log; the reader is told what happens next.
            log.exception("the main job of an inbox pass failed")
            message = (
                "the main job stopped before the diagnosis was stored; the loaded files stay "
                "in the inbox and are diagnosed on the next pass"
            )
            tell(WatchEvent("error", message=message))
            # Loaded files wait in the inbox: the next pass recovers them and runs it again.
            rest = [(lnd, r) for lnd, r in taken if not _needs_diagnosis(r)]
            return PassResult(
                files=_move_all(inbox, rest, None, tell),
                error=message,
                left=left + tuple(lnd.path.name for lnd, _ in loaded),
            )
    diagnosed = datetime.now().astimezone() if loaded else None
    if loaded and after_run is not None:
        after_run()
    step(1.0, "done")
    return PassResult(
        files=_move_all(inbox, taken, diagnosed, tell),
        ran_main_job=bool(loaded),
        main_job=main_job,
        left=left,
    )


def _needs_diagnosis(report: FileReport) -> bool:
    """A file whose rows the main job must see: it loaded rows now, or was recovered."""
    return report.outcome == "done" and (report.accepted > 0 or report.recovered)


def _move_all(
    inbox: Inbox,
    taken: Sequence[tuple[Landed, FileReport]],
    diagnosed: datetime | None,
    tell: OnEvent,
) -> tuple[FileReport, ...]:
    out = []
    for landed, report in taken:
        if diagnosed is not None and _needs_diagnosis(report):
            report = replace(
                report,
                diagnosed_at=_iso(diagnosed),
                seconds_to_diagnosed=round((diagnosed - landed.landed_at).total_seconds(), 3),
            )
        moved = _move(inbox, landed.path, report)
        tell(WatchEvent("moved", file=moved.file, report=moved))
        out.append(moved)
    return tuple(out)


Runner = Callable[[Inbox, Sequence[Landed]], PassResult]


def watch(
    settings: Settings,
    folder: Path | str,
    stop: threading.Event,
    *,
    interval: float = 2.0,
    settle: float = SETTLE_SECONDS,
    on_event: OnEvent | None = None,
    runner: Runner | None = None,
) -> None:
    """Poll ``folder`` every ``interval`` seconds (``settle`` while a new file is still to be
    confirmed still) and process what is ready, until ``stop`` is set.

    ``runner(inbox, ready)`` runs one pass (default :func:`process`; a server runs each pass
    as a job). A pass that raises is reported as an ``error`` event and the loop goes on.
    """
    inbox = Inbox(folder)
    tell = on_event or _quiet

    def default(box: Inbox, ready: Sequence[Landed]) -> PassResult:
        return process(settings, box, ready, on_event=tell, stop=stop)

    run = runner or default
    while not stop.is_set():
        try:
            ready = inbox.poll()
            if ready:
                run(inbox, ready)
        except Exception:
            log.exception("an inbox pass failed")
            tell(
                WatchEvent(
                    "error",
                    message="the pass stopped; its files stay in the inbox for the next pass",
                )
            )
        stop.wait(min(settle, interval) if inbox.pending else interval)


def watch_once(
    settings: Settings,
    folder: Path | str,
    *,
    settle: float = SETTLE_SECONDS,
    on_event: OnEvent | None = None,
    stop: threading.Event | None = None,
) -> PassResult:
    """Process what is in ``folder`` now and return: two polls ``settle`` seconds apart, then
    one pass over the files that held still between them."""
    stop = stop or threading.Event()
    inbox = Inbox(folder)
    inbox.poll()
    stop.wait(settle)
    return process(settings, inbox, inbox.poll(), on_event=on_event, stop=stop)


class Watcher:
    """The loop in a background thread of a server."""

    def __init__(self, thread: threading.Thread, stop: threading.Event) -> None:
        self.thread = thread
        self._stop = stop

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop after the current file; waits up to ``timeout`` seconds for it."""
        self._stop.set()
        self.thread.join(timeout)


def start_watch(
    jobs: Jobs,
    settings: Settings,
    folder: Path | str,
    *,
    interval: float = 2.0,
    after_run: Callable[[], None] | None = None,
    on_event: OnEvent | None = None,
) -> Watcher:
    """Run the loop on ``folder`` in a daemon thread for a server's life: each pass is a job of
    kind ``watch`` (admins follow it on the data page), and ``after_run`` follows each main
    job (the server reloads its read model). Stop it with :meth:`Watcher.stop`."""
    stop = threading.Event()
    actor = workspace_admin("watch")
    Inbox(folder)  # the folders exist before the server answers

    def as_job(inbox: Inbox, ready: Sequence[Landed]) -> PassResult:
        done: list[PassResult] = []

        def work(progress: JobProgress) -> dict[str, Any]:
            result = process(
                settings,
                inbox,
                ready,
                actor=actor,
                on_event=on_event,
                stop=stop,
                after_run=after_run,
                progress=progress,
            )
            done.append(result)
            return result.as_dict()

        job = jobs.start(JOB_KIND, work, owner=actor, join_running=False)
        jobs.wait(job.id)
        return done[0] if done else PassResult(error="the pass did not finish")

    thread = threading.Thread(
        target=watch,
        args=(settings, folder, stop),
        kwargs={"interval": interval, "on_event": on_event, "runner": as_job},
        name="windmaker-watch",
        daemon=True,
    )
    thread.start()
    return Watcher(thread, stop)
