"""Reading ahead and writing behind: the warehouse's reads and writes of parts on a thread of
their own, while the caller computes on the part in hand.

A DuckDB query, Arrow's conversions and a Parquet writer's compression run outside Python's
lock, so a batch can be read, or written, while the caller scores another one: the lifetime
value's scoring of 7.5M buyers spent 10 s of its 27 s reading and writing, on one core.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(items: Iterator[T]) -> Generator[T]:
    """``items``, each next one fetched on a thread while the caller works on the last.

    At most one item is read ahead. What ``items`` reads from (a warehouse's connection) must
    not be used by the caller while it iterates: the next item is being read from it.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="windmaker-read") as pool:
        pending: Future[object] = pool.submit(next, items, _END)
        try:
            while (item := pending.result()) is not _END:
                pending = pool.submit(next, items, _END)
                yield item  # type: ignore[misc]
        finally:
            # The caller stopped early or failed: the read under way ends before anything
            # else may use the connection, and its own failure, if any, is not the news.
            with contextlib.suppress(Exception):
                pending.result()
            close = getattr(items, "close", None)
            if close is not None:
                close()


@contextlib.contextmanager
def write_behind(write: Callable[[T], None]) -> Iterator[Callable[[T], None]]:
    """A function that hands each part to ``write`` on a thread, in order, and returns.

    At most one part waits: handing over the next one first waits for the last one's write,
    and a write's failure is raised there, or when the block ends, which waits for the last
    write. When the block fails, the last write is waited for and its failure dropped.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="windmaker-write") as pool:
        pending: list[Future[None]] = []

        def settle() -> None:
            while pending:
                pending.pop().result()

        def later(part: T) -> None:
            settle()
            pending.append(pool.submit(write, part))

        try:
            yield later
        except BaseException:
            with contextlib.suppress(Exception):
                settle()
            raise
        settle()
