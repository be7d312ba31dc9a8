"""Independent per-brand fits on every core.

The fits of one brand never read another's, so a market's brands are handed to worker
processes. The standard library's process pool is enough: the work is a plain map of picklable
inputs to picklable fits, and the libraries these fits use (SciPy, PyTensor) hold the GIL in
their Python-level loops, so threads would not help. Workers are spawned, not forked, so a
server's threads and locks are not copied into them; each worker compiles what it needs once
and reuses it for every brand it gets.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Below this many fits per worker a pool costs more (starting interpreters, compiling the
#: likelihoods once in each) than it saves.
MIN_PER_WORKER = 8


def on_cores(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    *,
    heavy: int | None = None,
    min_per_worker: int | None = None,
) -> Iterator[R]:
    """``fn`` over ``items``, results in order: in this process, or on ``workers`` processes
    (0: one per core) when there are at least ``min_per_worker`` fits per worker (``heavy``
    counts the items that are real fits, default all; ``min_per_worker`` defaults to
    :data:`MIN_PER_WORKER`). ``fn`` must be a module-level function."""
    n = workers or os.cpu_count() or 1
    least = MIN_PER_WORKER if min_per_worker is None else min_per_worker
    if n <= 1 or (len(items) if heavy is None else heavy) < n * least:
        yield from map(fn, items)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
        yield from pool.map(fn, items, chunksize=max(1, len(items) // (n * 16)))
