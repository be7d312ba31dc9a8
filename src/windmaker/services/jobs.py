"""Background jobs of the server: heavy work off the request path, a bounded pool per kind.

A refresh runs for minutes on a large market and an upload may take as long to validate; the
API and the dashboard answer at once with a job id and poll its progress. Each kind of job has
its own pool with a concurrency limit (ingest 1, refresh 1 by default; the workspace settings
``ingest_concurrency`` and ``refresh_concurrency``), so a burst of uploads queues instead of
starving the requests that read. A refresh start joins the running refresh instead of racing it
on the same warehouse.

Every job records who asked for it: a user sees their own jobs, an admin sees all of them.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal

Status = Literal["queued", "running", "succeeded", "failed"]
Progress = Callable[[float, str], None]

#: Concurrent jobs per kind when the settings do not say (a kind not named here runs one at a time).
DEFAULT_LIMITS: Mapping[str, int] = {"ingest": 1, "refresh": 1}


#: Kinds of job that act on the whole workspace, followed by all of its staff.
SHARED_KINDS = frozenset({"refresh"})
#: Kinds of job that rewrite the result tables (the main job, a model fit, an inbox pass): one
#: runs at a time, whatever its kind, since two transactions replacing the same tables cannot
#: both commit. Uploads only append source rows and run beside them.
WRITER_KINDS = frozenset({"refresh", "fit", "watch"})


@dataclass(frozen=True)
class Job:
    """One job: its state, progress (0–1 with the current stage), result or error, and owners.

    ``owners`` are the user ids that started it (a refresh started while one runs joins it).
    """

    id: str
    kind: str
    status: Status
    progress: float = 0.0
    stage: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    error_code: str | None = None
    #: The refusal's values (``ServiceError.values``), which fill in the catalogue's
    #: ``error.<code>`` text a page shows in the reader's language.
    error_values: dict[str, str] | None = None
    owners: frozenset[int] = frozenset()

    def visible_to(self, user: Principal) -> bool:
        """Admins see every job; operators also the workspace's refresh (it recomputes every
        brand, and a second start joins it); anyone else the jobs they started."""
        if user.role == "admin" or user.user_id in self.owners:
            return True
        return self.kind in SHARED_KINDS and user.role == "operator"


class Jobs:
    """A registry of jobs, each kind run on its own bounded thread pool."""

    def __init__(self, limits: Mapping[str, int] | None = None) -> None:
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._futures: dict[str, Future[None]] = {}
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._writer = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def get_for(self, job_id: str, user: Principal) -> Job | None:
        """The job when ``user`` may see it; None when absent or someone else's (alike)."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.visible_to(user) else None

    def visible(self, user: Principal, limit: int = 50) -> list[Job]:
        """The ``limit`` most recent jobs ``user`` may see, newest first."""
        mine = [j for j in self._jobs.values() if j.visible_to(user)]
        return sorted(mine, key=lambda j: j.started_at, reverse=True)[:limit]

    def running(self, kind: str) -> Job | None:
        return next(
            (
                j
                for j in self._jobs.values()
                if j.kind == kind and j.status in ("queued", "running")
            ),
            None,
        )

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], **changes)

    def _pool(self, kind: str) -> ThreadPoolExecutor:
        pool = self._pools.get(kind)
        if pool is None:
            workers = max(1, int(self.limits.get(kind, 1)))
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"windmaker-{kind}")
            self._pools[kind] = pool
        return pool

    def start(
        self,
        kind: str,
        work: Callable[[Progress], dict[str, Any]],
        *,
        owner: Principal | None = None,
        join_running: bool = True,
    ) -> Job:
        """Queue ``work(progress)`` on the pool of ``kind``; returns the job at once.

        With ``join_running`` (a refresh) a job of ``kind`` already queued or running is
        returned instead, and ``owner`` joins its owners. ``work`` returns the job's result; a
        :class:`ServiceError` it raises is the job's error (code and message), anything else is
        logged with its traceback.
        """
        owners = frozenset({owner.user_id}) if owner is not None else frozenset()
        with self._lock:
            existing = self.running(kind) if join_running else None
            if existing is not None:
                joined = replace(existing, owners=existing.owners | owners)
                self._jobs[existing.id] = joined
                return joined
            job = Job(id=uuid.uuid4().hex[:12], kind=kind, status="queued", owners=owners)
            self._jobs[job.id] = job

        def progress(fraction: float, stage: str) -> None:
            self._update(job.id, progress=max(0.0, min(1.0, fraction)), stage=stage)

        def run() -> None:
            writer = self._writer if kind in WRITER_KINDS else contextlib.nullcontext()
            with writer:
                locked_run()

        def locked_run() -> None:
            self._update(job.id, status="running")
            try:
                result = work(progress)
            except ServiceError as exc:
                self._update(
                    job.id,
                    status="failed",
                    error=str(exc),
                    error_code=exc.code,
                    error_values={k: str(v) for k, v in exc.values.items()},
                    finished_at=datetime.now(UTC),
                )
            except Exception:
                # The engine's own words stay in the server's log; the job says what happened.
                self._update(
                    job.id,
                    status="failed",
                    error="the job stopped on an unexpected error; the server log has the details",
                    error_code="internal",
                    finished_at=datetime.now(UTC),
                )
                traceback.print_exc()
            else:
                self._update(
                    job.id,
                    status="succeeded",
                    progress=1.0,
                    result=result,
                    finished_at=datetime.now(UTC),
                )

        self._futures[job.id] = self._pool(kind).submit(run)
        return self._jobs[job.id]

    def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        """The job once it has finished (or ``timeout`` seconds have passed)."""
        future = self._futures.get(job_id)
        if future is not None:
            with contextlib.suppress(TimeoutError):
                future.result(timeout)
        return self.get(job_id)

    def shutdown(self) -> None:
        """Stop taking jobs; queued ones are dropped, running ones finish on their own."""
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
