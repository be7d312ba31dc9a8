"""Await a coroutine from a synchronous test, whatever else the session runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_on_own_loop(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``make()`` on an event loop of its own thread: a session that drives the browser keeps
    a loop running in the main thread, where ``asyncio.run`` is refused."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
