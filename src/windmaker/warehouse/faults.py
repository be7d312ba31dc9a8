"""Fault points: where the fault-injection tests kill a process, and nowhere else.

A test sets ``WINDMAKER_FAULT_AT`` to one point's name in a child process; when the child
reaches that point it kills itself with SIGKILL, as a power cut or an out-of-memory kill would,
with no chance to roll back or clean up. Without the variable (every real run) a point costs one
dictionary lookup. The points are named where they are placed: ``run.<step>`` after each step of
the main job, ``refresh.<stage>`` after each stage of the metrics refresh, ``commit`` just before
a warehouse transaction commits (an upload's ingest, the main job), ``decision`` inside the store
transaction of a provider decision.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

#: The environment variable naming the point to die at (test-only).
ENV = "WINDMAKER_FAULT_AT"


def reach(point: str, prepare: Callable[[], object] | None = None) -> None:
    """Kill this process with SIGKILL if ``WINDMAKER_FAULT_AT`` names ``point``.

    ``prepare`` runs first (a store session's flush: the half-made change is sent to the
    database, so the kill interrupts a transaction that holds it).
    """
    if os.environ.get(ENV) != point:
        return
    if prepare is not None:
        prepare()
    os.kill(os.getpid(), signal.SIGKILL)
