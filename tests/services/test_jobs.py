"""Jobs that rewrite the result tables run one at a time, whatever their kind.

Known answer: while a model fit holds the result tables, a refresh started beside it stays
queued (it would otherwise fail at commit on the tables both replace) and runs once the fit is
done; an upload, which only appends source rows, runs meanwhile.
"""

from __future__ import annotations

import threading
from typing import Any

from windmaker.services.jobs import Jobs


def test_writers_take_turns_and_uploads_run_beside_them() -> None:
    jobs = Jobs({"fit": 1, "refresh": 1, "ingest": 1})
    release = threading.Event()
    fitting = threading.Event()
    order: list[str] = []

    def fit(_progress: Any) -> dict[str, Any]:
        fitting.set()
        assert release.wait(30)
        order.append("fit")
        return {}

    def refresh(_progress: Any) -> dict[str, Any]:
        order.append("refresh")
        return {}

    def upload(_progress: Any) -> dict[str, Any]:
        order.append("upload")
        return {}

    first = jobs.start("fit", fit)
    assert fitting.wait(30)
    second = jobs.start("refresh", refresh)
    third = jobs.start("ingest", upload)
    done = jobs.wait(third.id, timeout=30)
    assert done is not None and done.status == "succeeded"
    waiting = jobs.get(second.id)
    assert waiting is not None and waiting.status == "queued"
    assert order == ["upload"]
    release.set()
    finished = jobs.wait(second.id, timeout=30)
    assert finished is not None and finished.status == "succeeded"
    assert order == ["upload", "fit", "refresh"]
    fitted = jobs.get(first.id)
    assert fitted is not None and fitted.status == "succeeded"
