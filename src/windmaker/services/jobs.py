"""Background jobs of the server (the main job): start, progress, result.

A refresh runs for minutes on a large market; the API and the dashboard answer at once with a
job id and poll its progress. One job of a kind runs at a time: a second start returns the
running one instead of racing it on the same warehouse.
"""

from __future__ import annotations

import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["queued", "running", "succeeded", "failed"]
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    status: Status
    progress: float = 0.0
    stage: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class Jobs:
    """A registry of jobs run on daemon threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._threads: dict[str, threading.Thread] = {}

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

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

    def start(self, kind: str, work: Callable[[Progress], dict[str, Any]]) -> Job:
        """Run ``work(progress)`` in the background, unless a job of ``kind`` is running."""
        with self._lock:
            existing = self.running(kind)
            if existing is not None:
                return existing
            job = Job(id=uuid.uuid4().hex[:12], kind=kind, status="queued")
            self._jobs[job.id] = job

        def progress(fraction: float, stage: str) -> None:
            self._update(job.id, progress=max(0.0, min(1.0, fraction)), stage=stage)

        def run() -> None:
            self._update(job.id, status="running")
            try:
                result = work(progress)
            except Exception as exc:
                self._update(
                    job.id,
                    status="failed",
                    error=f"{type(exc).__name__}: {exc}",
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

        thread = threading.Thread(target=run, name=f"windmaker-{kind}-{job.id}", daemon=True)
        self._threads[job.id] = thread
        thread.start()
        return self._jobs[job.id]

    def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(job_id)
