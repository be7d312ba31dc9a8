"""What a brushing detection keeps for the next one (:class:`DetectionState`), and the chance
model's lookup that starts from it (:func:`near_lookup`): the stored part of
:mod:`.warehouse`'s detection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from windmaker.models.brushing.rings import positions

#: Runs an Ibis expression and returns its rows (``Warehouse.execute``).
Execute = Callable[[ir.Expr], Any]

#: The windows (shop, buyer, window) of the orders from a window number on (every order:
#: ``None``). The time filter is applied below the ids' hashing, so the engine hashes only the
#: orders it keeps.
WindowsFrom = Callable[[int | None], ibis.Table]


def int_frame(**columns: np.ndarray) -> ibis.Table:
    """A memtable of int64 columns (typed even when empty)."""
    return ibis.memtable(
        pd.DataFrame({k: np.asarray(v, dtype=np.int64) for k, v in columns.items()})
    )


RULE_COLUMNS = ("shop", "buyer", "t", "start", "end", "orders", "buyers")
PERIOD_COLUMNS = ("shop", "first", "last", "orders", "buyers", "suspicious")

SHARED_COLUMNS = ("shop", "window", "a", "b")
DAY_COLUMNS = ("shop", "day", "n")
SLOT_COLUMNS = ("shop", "bucket", "slot", "n")
NEAR_COLUMNS = ("shop", "window", "buyer", "orders", "degree")
#: Days per bucket of the stored slot counts: a detection after new orders recounts the
#: buckets from the first changed day's on.
BUCKET_DAYS = 28


@dataclass(frozen=True)
class DetectionState:
    """What a detection keeps for the next one, every id a hash:

    * ``shared``: the windows its linkable pairs share (:func:`shared_windows`' rows);
    * ``days``: each shop's incidences per day (the chance model's ``day_windows``);
    * ``slots``: each shop's incidences per slot of the day, per :data:`BUCKET_DAYS`-day bucket
      (summed over the buckets: the chance model's long-run share of each hour);
    * ``flags``: the rule's flagged (shop, buyer, second) groups with their earliest period
      (:data:`RULE_COLUMNS`);
    * ``periods``: the rule's periods, a row per suspicious buyer (:data:`PERIOD_COLUMNS`);
    * ``near``: the chance model's lookup, every incidence of the linked pairs' buyer-shop
      pairs with its window's buyers (:data:`NEAR_COLUMNS`).
    """

    shared: pd.DataFrame
    days: pd.DataFrame
    slots: pd.DataFrame
    flags: pd.DataFrame
    periods: pd.DataFrame
    near: pd.DataFrame


#: Each frame of :class:`DetectionState` and its columns, all int64.
STATE_COLUMNS = (
    ("shared", SHARED_COLUMNS),
    ("days", DAY_COLUMNS),
    ("slots", SLOT_COLUMNS),
    ("flags", RULE_COLUMNS),
    ("periods", PERIOD_COLUMNS),
    ("near", NEAR_COLUMNS),
)


@dataclass(frozen=True)
class Prior:
    """A detection's :class:`DetectionState` over the same orders' past, and ``since``, the
    first window whose orders may have changed since then. Every window before ``since`` holds
    the orders it held; the caller guarantees it (orders only appended, from ``since`` on)."""

    state: DetectionState
    since: int


#: Receives what a detection keeps, to give it back as the next one's :class:`Prior`.
Keep = Callable[[DetectionState], None]


def empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: np.zeros(0, np.int64) for c in columns})


def no_state() -> DetectionState:
    return DetectionState(*(empty_frame(cols) for _, cols in STATE_COLUMNS))


def lookup(windows: ibis.Table, pairs: pd.DataFrame, execute: Execute) -> pd.DataFrame:
    """The incidences of the buyer-shop ``pairs`` (shop, buyer hashes) among ``windows``, with
    their windows' buyers (:data:`NEAR_COLUMNS`): the orders are read twice through semi-joins
    (the pairs, then their windows), not grouped whole."""
    if pairs.empty:
        return empty_frame(NEAR_COLUMNS)
    mine = windows.semi_join(int_frame(shop=pairs["shop"], buyer=pairs["buyer"]), ["shop", "buyer"])
    inc = mine.group_by(["shop", "window", "buyer"]).agg(orders=mine.count())
    met = windows.semi_join(inc.select("shop", "window"), ["shop", "window"])
    met = met.select("shop", "window", "buyer").distinct()
    degree = met.group_by(["shop", "window"]).agg(degree=met.count())
    found = execute(inc.join(degree, ["shop", "window"]).select(*NEAR_COLUMNS))
    return found.astype(np.int64)


def near_lookup(
    windows: WindowsFrom,
    shop_keys: np.ndarray,
    buyer_keys: np.ndarray,
    need: np.ndarray,
    execute: Execute,
    prior: Prior | None,
) -> pd.DataFrame:
    """:func:`lookup` of the buyer-shop pairs ``need`` (``buyer code × shops + shop code``),
    or, given ``prior``: for the pairs it looked up, its rows before ``prior.since`` and the
    windows from it on looked up; the other pairs looked up in every window. A window before
    ``since`` holds the orders it held, so its buyers too. With each row's codes
    (``shop_code``, ``buyer_code``)."""
    n_shops = len(shop_keys)
    shop, buyer = need % n_shops, need // n_shops

    def pairs(rows: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"shop": shop_keys[shop[rows]], "buyer": buyer_keys[buyer[rows]]})

    def coded(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(
            shop_code=np.searchsorted(shop_keys, frame["shop"].to_numpy(dtype=np.int64)),
            buyer_code=np.searchsorted(buyer_keys, frame["buyer"].to_numpy(dtype=np.int64)),
        )

    every = np.arange(len(need))
    if prior is None:
        return coded(lookup(windows(None), pairs(every), execute))
    stored = prior.state.near
    s_code = positions(shop_keys, stored["shop"].to_numpy(dtype=np.int64))
    b_code = positions(buyer_keys, stored["buyer"].to_numpy(dtype=np.int64))
    key = np.where((s_code >= 0) & (b_code >= 0), b_code * n_shops + s_code, -1)
    seen = pd.Index(need).isin(key)
    kept = pd.Index(key).isin(need) & (stored["window"].to_numpy() < prior.since)
    old = stored[kept].assign(shop_code=s_code[kept], buyer_code=b_code[kept])
    parts = [
        old,
        coded(lookup(windows(prior.since), pairs(every[seen]), execute)),
        coded(lookup(windows(None), pairs(every[~seen]), execute)),
    ]
    return pd.concat(parts, ignore_index=True)
