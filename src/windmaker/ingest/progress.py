"""The caller's progress bar during an import, fed by the engine's own query progress."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


class FileProgress:
    """The caller's progress bar (a Rich ``Progress``: ``add_task``, ``update``, a context
    manager), one task per file, fed by DuckDB's own query progress while a query runs. The bar
    is the caller's, so ingestion itself draws nothing."""

    def __init__(self, bar: Any | None) -> None:
        self._given = bar
        self._bar: Any = None

    def __enter__(self) -> FileProgress:
        if self._given is not None:
            self._bar = self._given
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def task(self, label: str) -> Any:
        return self._bar.add_task(label, total=100) if self._bar is not None else None

    def update(self, task: Any, completed: float, label: str | None = None) -> None:
        if self._bar is not None and task is not None:
            if label is not None:
                self._bar.update(task, completed=completed, description=label)
            else:
                self._bar.update(task, completed=completed)

    @contextlib.contextmanager
    def watching(self, con: Any, task: Any, lo: float, hi: float) -> Iterator[None]:
        """While the body runs a query, map its progress (0–100) onto ``lo``..``hi``."""
        if self._bar is None:
            yield
            return
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(0.25):
                with contextlib.suppress(Exception):
                    p = float(con.query_progress())
                    if p >= 0:
                        self.update(task, lo + (hi - lo) * min(p, 100.0) / 100.0)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.update(task, hi)


__all__ = ["FileProgress"]
