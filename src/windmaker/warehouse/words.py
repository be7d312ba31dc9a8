"""What stopped work on the warehouse, in words a user can act on.

The engine's own message (kept in the log) names its internals, its settings' SQL names and the
server's folders, not what the user can do; these sentences say what happened and what to try.
"""

from __future__ import annotations

#: What a user can do when the warehouse runs out of memory.
RAISE_MEMORY = "raise memory_limit in windmaker.toml"


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is the engine (or Python) running out of memory."""
    import duckdb

    return isinstance(exc, duckdb.OutOfMemoryException | MemoryError)


def engine_words(exc: BaseException, *, memory_hint: str = RAISE_MEMORY) -> str:
    """What stopped the work, in words; ``memory_hint`` is what to try when memory ran out."""
    import duckdb

    if out_of_memory(exc):
        return f"the warehouse ran out of memory ({memory_hint})"
    if isinstance(exc, duckdb.InterruptException | KeyboardInterrupt):
        return "it was interrupted"
    if isinstance(exc, duckdb.IOException | OSError):
        if "lock" in str(exc).lower():
            return "the warehouse is in use by another process (a running import or server)"
        return "a file could not be read or written (is the disk full, or was the file moved?)"
    if isinstance(exc, duckdb.TransactionException):
        return "another change to the warehouse ran at the same time; try again"
    return "an unexpected internal problem (the details are in the log)"
