"""Independent per-brand fits on every core.

The fits of one brand never read another's, so a market's brands are handed to worker
processes. The standard library's process pool is enough: the work is a plain map of picklable
inputs to picklable fits, and SciPy's optimiser, which drives every fit, holds the GIL in its
Python-level loop, so threads would not help. Workers are spawned, not forked, so a
server's threads and locks are not copied into them; each worker compiles what it needs once
and reuses it for every brand it gets.
"""

from __future__ import annotations

import collections
import functools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@functools.cache
def _blas_controller() -> Any:
    """One threadpool controller for the process: finding the loaded libraries costs 20 ms."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> Any:
    """Hold BLAS to one thread while fitting (a context manager).

    SciPy's L-BFGS-B makes tiny BLAS calls on every iteration; a threaded OpenBLAS wakes its
    threads for each of them, which on a loaded 2-core machine cost 5 ms per iteration (half
    the benchmark market's lifetime-value fit time) against 33 µs with one thread. With one
    fit process per core the threads of two processes fight over the cores: 300 brands'
    traffic curves took 47 s on two processes with threaded BLAS and 12 s without. The fits
    are sequential and their arrays small, so a second BLAS thread never helps them.
    """
    return _blas_controller().limit(limits=1, user_api="blas")


#: Items handed to the pool ahead of the results, per worker: enough to keep every worker
#: busy while the next result is awaited, few enough that the items' memory stays small.
AHEAD = 4

#: Below this many fits per worker a pool costs more (starting interpreters, compiling the
#: likelihoods once in each) than it saves.
MIN_PER_WORKER = 8


def _start_worker(lock: Any, warm: Callable[[], object] | None) -> None:
    """A worker's first step: ``warm`` (imports, compiled functions) one worker at a time.

    Importing PyMC's stack in several fresh processes at once races on files those libraries
    write in the user's cache folder (ArviZ's once-a-day notice is written as a temporary file
    renamed into place, and two processes rename the same file); in turn, each import sees the
    file the one before wrote.
    """
    with lock:
        if warm is not None:
            warm()


def on_cores(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    *,
    heavy: int | None = None,
    min_per_worker: int | None = None,
    warm: Callable[[], object] | None = None,
) -> Iterator[R]:
    """``fn`` over ``items``, results in order: in this process, or on ``workers`` processes
    (0: one per core) when there are at least ``min_per_worker`` fits per worker (``heavy``
    counts the items that are real fits, default all, and is needed when ``items`` has no
    length; ``min_per_worker`` defaults to :data:`MIN_PER_WORKER`). ``fn`` and ``warm`` (run
    first in each worker, one worker at a time) must be module-level functions.

    ``items`` is read as the workers take them, at most :data:`AHEAD` items per worker ahead
    of the results: a generator of brands read from the warehouse batch by batch stays
    bounded (the standard library's ``Executor.map`` would read it to the end first)."""
    n = workers or os.cpu_count() or 1
    least = MIN_PER_WORKER if min_per_worker is None else min_per_worker
    count = heavy if heavy is not None else len(items)  # type: ignore[arg-type]
    if n <= 1 or count < n * least:
        yield from map(fn, items)
        return
    context = multiprocessing.get_context("spawn")
    # One item at a time: brands' sizes are very uneven (a few large ones take most of the
    # time), so chunks would leave one worker with the large brands while the other idles.
    pool = ProcessPoolExecutor(
        max_workers=n,
        mp_context=context,
        initializer=_start_worker,
        initargs=(context.Lock(), warm),
    )
    with pool:
        pending: collections.deque[Future[R]] = collections.deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= AHEAD * n:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
