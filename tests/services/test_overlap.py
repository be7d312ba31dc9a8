"""Reading ahead and writing behind: the next batch is read, and the last part written, on a
thread while the caller works, in order, one at a time, and failures reach the caller.

Known answers: hand-made iterators and writers that record what ran, on which thread and when.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pandas as pd
import pytest

from windmaker.warehouse import Warehouse
from windmaker.warehouse.overlap import read_ahead, write_behind


def test_the_next_item_is_read_while_the_caller_holds_this_one_and_no_further() -> None:
    produced: list[int] = []
    threads: list[str] = []
    second_started = threading.Event()

    def items() -> Iterator[int]:
        for k in range(5):
            if k == 1:
                second_started.set()
            produced.append(k)
            threads.append(threading.current_thread().name)
            yield k

    got = []
    for k in read_ahead(items()):
        if k == 0:
            # read on a thread while the first item is in hand, not when it is asked for
            assert second_started.wait(5)
        time.sleep(0.05)  # time enough for a reader that does not wait to run on
        assert len(produced) <= k + 2
        got.append(k)
    assert got == [0, 1, 2, 3, 4]
    assert all(name != threading.current_thread().name for name in threads)


def test_a_caller_that_stops_early_leaves_no_read_running_and_closes_the_iterator() -> None:
    closed = threading.Event()
    reading = threading.Event()
    finish = threading.Event()

    def items() -> Iterator[int]:
        try:
            yield 0
            reading.set()
            finish.wait(5)  # the read of the second item is under way when the caller stops
            yield 1
            yield 2
        finally:
            closed.set()

    ahead = read_ahead(items())
    assert next(ahead) == 0
    assert reading.wait(5)
    threading.Timer(0.1, finish.set).start()
    ahead.close()  # waits for the read under way, then closes the iterator
    assert finish.is_set() and closed.is_set()


def test_a_failed_read_is_raised_to_the_caller_at_its_place() -> None:
    def items() -> Iterator[int]:
        yield 0
        raise OSError("the disk is gone")

    got = []
    with pytest.raises(OSError, match="the disk is gone"):
        for k in read_ahead(items()):
            got.append(k)
    assert got == [0]


def test_parts_are_written_in_order_while_the_caller_makes_the_next() -> None:
    written: list[int] = []
    writing = threading.Event()
    release = threading.Event()

    def write(part: int) -> None:
        if part == 0:
            writing.set()
            assert release.wait(5)
        written.append(part)

    with write_behind(write) as later:
        later(0)
        assert writing.wait(5)  # the first part is being written, and the caller has its hand
        assert written == []
        release.set()
        later(1)  # waits for the first part's write before handing over the second
        assert written == [0]
        later(2)
    assert written == [0, 1, 2]  # the block's end waits for the last write


def test_a_failed_write_is_raised_at_the_next_hand_over_or_at_the_end() -> None:
    def write(part: int) -> None:
        if part == 1:
            raise OSError(f"part {part} could not be written")

    with pytest.raises(OSError, match="part 1"), write_behind(write) as later:
        later(0)
        later(1)
        later(2)  # raised here, before part 2 is handed over
        pytest.fail("part 2 was handed over after part 1 failed")
    with pytest.raises(OSError, match="part 1"), write_behind(write) as later:
        later(1)  # raised when the block ends


def test_when_the_block_fails_its_own_error_is_raised_not_the_writes() -> None:
    def write(part: int) -> None:
        raise OSError("the write failed too")

    with pytest.raises(ValueError, match="the scoring failed"), write_behind(write) as later:
        later(0)
        raise ValueError("the scoring failed")


def test_batches_read_ahead_are_half_the_rows_and_together_the_rows_read_in_turn() -> None:
    """Read ahead, a batch is of half the limit (a larger group still comes alone), so the
    batch read ahead, the one in hand and the part written behind hold what one batch did."""
    wh = Warehouse("duckdb://", group_batch_rows=8)
    data = pd.DataFrame({"g": list("aaabbbbcdddddd"), "x": range(14)})
    wh.write("t", data)
    t = wh.table("t")
    ahead = list(wh.in_group_batches(t, "g", ahead=True))
    in_turn = list(wh.in_group_batches(t, "g"))
    # of at most 4 rows: a (3) alone, b (4) alone, c (1) alone since d (6) would pass 4
    assert [len(b) for b in ahead] == [3, 4, 1, 6]
    assert [len(b) for b in in_turn] == [8, 6]  # a, b and c; d alone
    rows = pd.concat(ahead).sort_values("x").reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, pd.concat(in_turn).sort_values("x").reset_index(drop=True))
    # a table stored in parts while the batches are read ahead holds every row once
    with wh.in_parts("copy") as store:
        for batch in wh.in_group_batches(t, "g", ahead=True):
            store(batch.assign(x=batch["x"] * 2))
    stored = wh.execute(wh.table("copy").order_by("x"))
    assert stored["x"].tolist() == [2 * x for x in range(14)]
