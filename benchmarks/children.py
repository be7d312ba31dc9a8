"""Measuring work in a fresh process: what it sends back, and the peak memory of its tree."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from collections.abc import Callable
from typing import Any


def tree_rss(proc: Any) -> int:
    """Resident bytes of the ``psutil`` process ``proc`` and all its descendants (a process
    that has ended counts 0)."""
    import psutil

    total = 0
    with contextlib.suppress(psutil.Error):
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
    return total


def in_child(target: Callable[..., None], args: tuple[Any, ...], poll: float) -> tuple[Any, int]:
    """Run ``target(*args, send)`` in a fresh (spawned) process; ``target`` sends one message
    through ``send`` when done. Returns (the message, peak resident bytes of the process and
    its descendants, sampled every ``poll`` seconds)."""
    import psutil

    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(*args, send))
    proc.start()
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.is_alive():
        peak = max(peak, tree_rss(ps))
        if recv.poll(poll):
            break
    name = getattr(target, "__name__", target)
    if not recv.poll(0):  # it ended without a word: it failed (its traceback is on stderr)
        proc.join()
        raise RuntimeError(f"{name} failed: exit code {proc.exitcode}")
    message = recv.recv()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"{name} failed: exit code {proc.exitcode}")
    return message, peak
