"""Order brushing (刷单) detection: rings of buyers acting together, each flag with its evidence.

A brushing ring is several accounts acting in concert; one buyer returning to one shop on many
days, however often, is a loyal fan (the private domain working), not a ring. Every flagged
order carries the signals that fired (``signals``, e.g. ``"concentration+dense_block"``) and a
``confidence``: ``high`` when at least ``min_signals`` independent signals fired, one of them
showing several buyers acting together; ``review`` otherwise. Only high-confidence orders leave
GMV (``mdl_brushing_orders``); every flag is listed for review (``mdl_brushing_review``).

Signals:

* ``concentration`` (the definition used in public order-brushing competitions). For one shop,
  a *window* is a closed interval ``[s, s + H]`` (``H`` = one hour, ``s`` any instant). A window
  is a *brushing period* when it holds at least one order and

      orders(window) / distinct buyers(window) ≥ min_ratio   (3 by default).

  Its *suspicious buyers* are those with the most of its orders (ties: all); their orders in
  the period fire. Every window counts, overlapping ones included (one-second resolution).
* ``dense_block``: the buyer belongs to a ring, a group of at least ``min_ring_buyers`` buyers
  linked by pairs that share (shop, time-window) columns far more often than chance, and the
  order lies in a window it shares with another member. Chance is what the shop's own traffic
  gives: buyer ``b`` with ``n_b`` windows at a shop falls in column ``c`` with probability at
  most ``n_b · q_c``, ``q_c`` the column's share of the shop's buyer-windows, so a pair sharing
  ``C`` windows is expected to share ``E = Σ_shops max(n_b·Q_a, n_a·Q_b)`` (``Q_a`` = Σ ``q_c``
  over ``a``'s windows) and is linked when ``P(Poisson(E) ≥ C) ≤ max_chance``. Loyal fans of
  a popular shop meet in its busy live hours about as often as its traffic predicts, and
  windows with more than ``max_window_buyers`` buyers carry no evidence at all; a ring meets
  in windows that are otherwise quiet.
* ``co_shop``: the buyer acts together with its ring at two shops or more.
* ``fresh_account`` (rented or new accounts): the buyer's first order in the data lies within
  ``fresh_days`` before its first flagged order, and at least ``fresh_days`` after the data
  begins (before that, an account's age is unknown).
* ``low_value``: the order's amount is at or below the ``low_value_quantile`` of its shop's
  (and below the shop's median).
* ``unfulfilled``: refunded, cancelled, or past its promised shipping time and never shipped.
* ``no_review``: the order has no review (off by default: most real orders have none).

Everything here is plain numpy/pandas over arrays the warehouse returns; :func:`brushing_input`
is the Ibis expression that selects them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy import sparse, stats
from scipy.sparse.csgraph import connected_components

from windmaker import contract
from windmaker.models.registry import register

#: Columns of ``mdl_brushing_orders`` (high-confidence flags, left out of GMV) and of
#: ``mdl_brushing_review`` (every flag).
FLAGGED_COLUMNS = (
    "order_id",
    "brand_id",
    "buyer_id",
    "paid_at",
    "method",
    "window_start",
    "window_end",
    "window_orders",
    "window_buyers",
    "block_id",
    "signals",
    "n_signals",
    "confidence",
)
METHOD_RULE = "rule"
METHOD_BLOCK = "block"
METHOD_BOTH = "rule+block"
NO_TIME = np.iinfo(np.int64).min

SIGNAL_CONCENTRATION = "concentration"
SIGNAL_DENSE_BLOCK = "dense_block"
SIGNAL_CO_SHOP = "co_shop"
SIGNAL_FRESH_ACCOUNT = "fresh_account"
SIGNAL_LOW_VALUE = "low_value"
SIGNAL_UNFULFILLED = "unfulfilled"
SIGNAL_NO_REVIEW = "no_review"
#: Every signal, in the order ``signals`` lists them.
SIGNALS = (
    SIGNAL_CONCENTRATION,
    SIGNAL_DENSE_BLOCK,
    SIGNAL_CO_SHOP,
    SIGNAL_FRESH_ACCOUNT,
    SIGNAL_LOW_VALUE,
    SIGNAL_UNFULFILLED,
    SIGNAL_NO_REVIEW,
)
#: Signals that show several buyers acting together; a high-confidence flag needs one.
RING_SIGNALS = (SIGNAL_DENSE_BLOCK, SIGNAL_CO_SHOP)
#: Signals about the order or the account alone; they only add to a flag.
CORROBORATING = (SIGNAL_FRESH_ACCOUNT, SIGNAL_LOW_VALUE, SIGNAL_UNFULFILLED, SIGNAL_NO_REVIEW)
CONFIDENCE_HIGH = "high"
CONFIDENCE_REVIEW = "review"


class BlockConfig(BaseModel):
    """Ring (dense block) detection settings (``trust.yaml`` → ``brushing.blocks``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool
    window_seconds: int = Field(ge=60)
    min_ring_buyers: int = Field(ge=2)
    min_shared_windows: int = Field(ge=1)
    max_window_buyers: int = Field(ge=2)
    max_chance: float = Field(gt=0, lt=1)


class EvidenceConfig(BaseModel):
    """How flags become high-confidence (``trust.yaml`` → ``brushing.evidence``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_signals: int = Field(ge=1)
    corroborating: tuple[str, ...]
    fresh_days: float = Field(gt=0)
    low_value_quantile: float = Field(gt=0, lt=1)

    @field_validator("corroborating")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(CORROBORATING)
        if unknown:
            raise ValueError(f"unknown signals {sorted(unknown)}; known: {list(CORROBORATING)}")
        return value


class BrushingConfig(BaseModel):
    """Brushing detection settings (``trust.yaml`` → ``brushing``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_seconds: int = Field(ge=1)
    min_ratio: float = Field(gt=0)
    blocks: BlockConfig
    evidence: EvidenceConfig


# -- the warehouse side ----------------------------------------------------------------------


def brushing_input(orders: ibis.Table, reviews: ibis.Table | None = None) -> ibis.Table:
    """The order stream the detectors read: one row per order, every status included, with
    64-bit hashes of the shop and buyer ids computed by the engine (``*_key``), the amount,
    fulfilment columns and, given ``reviews``, whether the order was reviewed.

    Cancelled orders stay in: a brusher's cancelled fake orders are evidence too.
    """
    o = contract.ORDERS
    cols = (
        "order_id",
        "brand_id",
        "buyer_id",
        "paid_at",
        "status",
        "shipped_at",
        "promised_ship_by",
    )
    for c in (*cols, "amount", "refund_amount"):
        o.column(c)  # fails loudly if the contract renames a column
    extra = {}
    if reviews is not None:
        extra["reviewed"] = orders.order_id.isin(reviews.order_id)
    return orders.select(
        *cols,
        amount=orders.amount.cast("float64"),
        refund_amount=orders.refund_amount.cast("float64"),
        brand_id_key=orders.brand_id.hash(),
        buyer_id_key=orders.buyer_id.hash(),
        **extra,
    )


def seconds(paid_at: pd.Series | np.ndarray) -> np.ndarray:
    """Naive timestamps as whole seconds since the epoch (int64), the rule's resolution."""
    values = pd.to_datetime(pd.Series(paid_at)).to_numpy(dtype="datetime64[s]")
    return values.astype(np.int64)


def encode(orders: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Dense integer codes of ``orders[column]`` and, per code, the row of one of its orders.

    Codes follow a 64-bit hash of the value (``<column>_key`` when the warehouse computed it,
    else pandas' hash), so they do not depend on row order and no string is ever sorted.
    """
    key = f"{column}_key"
    if key in orders.columns:
        raw = orders[key].to_numpy(dtype=np.int64)
    else:
        raw = pd.util.hash_pandas_object(orders[column], index=False).to_numpy().view(np.int64)
    _, first, codes = np.unique(raw, return_index=True, return_inverse=True)
    return codes.ravel().astype(np.int64), first


# -- (a) the concentration rule ---------------------------------------------------------------


@dataclass(frozen=True)
class RuleResult:
    """Result of :func:`concentration_rule`, aligned with the input orders.

    ``flagged[i]``: order ``i`` lies in a brushing period of its shop and its buyer is a
    suspicious buyer of that period. ``window_start``/``window_end``: first and last order time
    (seconds) of the earliest such period, ``NO_TIME`` when not flagged. ``windows``: one row per
    distinct brushing period (shop code, first, last, orders, buyers, suspicious buyer codes).
    """

    flagged: np.ndarray
    window_start: np.ndarray
    window_end: np.ndarray
    window_orders: np.ndarray
    window_buyers: np.ndarray
    windows: pd.DataFrame

    def suspicious_pairs(self, shop: np.ndarray, buyer: np.ndarray) -> set[tuple[int, int]]:
        """(shop, buyer) codes of every suspicious buyer of every brushing period."""
        return set(zip(shop[self.flagged].tolist(), buyer[self.flagged].tolist(), strict=True))


def _sweep(t: np.ndarray, u: list[int], window: int, ratio: float) -> list[tuple[int, int]]:
    """Brushing periods of one time-sorted stream, as ``(first, end)`` positions (end exclusive).

    The order set of a window ``[s, s + H]`` is a run of whole timestamp groups ``a..b``. Such a
    run is the set of some window exactly when ``t_b − t_a ≤ H`` and ``t_{b+1} − t_{a−1} > H``
    (missing neighbours at ±∞): so for each ``a`` the runs are ``b ∈ [max(a, g(a−1)), g(a)]``
    with ``g(a)`` the last group within ``H`` of ``t_a``; both ends only move forward, and there
    are at most twice as many runs as groups. A two-pointer sweep keeps the buyer counts.
    """
    n = len(t)
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    ends = np.r_[starts[1:], n]
    times = t[starts]
    last = np.searchsorted(times, times + window, side="right") - 1
    first_b = np.maximum(np.arange(len(starts)), np.r_[0, last[:-1]])
    counts: dict[int, int] = {}
    left = right = 0
    out: list[tuple[int, int]] = []
    ends_l = ends.tolist()
    for s, lo, hi in zip(starts.tolist(), first_b.tolist(), last.tolist(), strict=True):
        if right <= s:
            counts.clear()
            left = right = s
        else:
            while left < s:
                x = u[left]
                c = counts[x] - 1
                if c:
                    counts[x] = c
                else:
                    del counts[x]
                left += 1
        for b in range(lo, hi + 1):
            e = ends_l[b]
            while right < e:
                x = u[right]
                counts[x] = counts.get(x, 0) + 1
                right += 1
            if right - left >= ratio * len(counts):
                out.append((s, e))
    return out


def _segments(
    shop: np.ndarray, buyer: np.ndarray, t: np.ndarray, window: int, ratio: float
) -> list[np.ndarray]:
    """Order positions of every stretch of a shop's stream that can hold a brushing period.

    A brushing period has a buyer with at least ``k = ⌈min_ratio⌉`` of its orders (the maximum is
    at least the mean), so it contains ``k`` orders of one buyer within ``H`` and lies within
    ``H`` of them. Stretches ``[x − H, y + H]`` around every such run, merged per shop, hold all
    periods with the same order sets and the same neighbours that decide which windows exist.
    """
    n = len(t)
    if n == 0:
        return []
    k = max(1, math.ceil(ratio - 1e-9))
    if k > n:
        return []
    # One int64 sort key (shop-buyer pair, then time) instead of a three-key lexsort.
    _, pair = np.unique(shop * (int(buyer.max()) + 1) + buyer, return_inverse=True)
    pair = pair.ravel()
    t_rel = t - int(t.min())
    by_buyer = np.argsort(pair * (int(t_rel.max()) + 1) + t_rel)
    s_, p_, t_ = shop[by_buyer], pair[by_buyer], t[by_buyer]
    hit = p_[k - 1 :] == p_[: n - k + 1]
    hit &= t_[k - 1 :] - t_[: n - k + 1] <= window
    idx = np.flatnonzero(hit)
    if len(idx) == 0:
        return []
    anchors = pd.DataFrame(
        {"shop": s_[idx], "lo": t_[idx] - window, "hi": t_[idx + k - 1] + window}
    ).sort_values(["shop", "lo"], kind="stable")
    run_hi = anchors.groupby("shop")["hi"].cummax().to_numpy()
    shops_a, lo_a = anchors["shop"].to_numpy(), anchors["lo"].to_numpy()
    new = np.r_[True, (shops_a[1:] != shops_a[:-1]) | (lo_a[1:] > run_hi[:-1])]
    seg_id = np.cumsum(new) - 1
    seg = pd.DataFrame({"shop": shops_a, "lo": lo_a, "hi": run_hi, "seg": seg_id})
    seg = seg.groupby("seg").agg(shop=("shop", "first"), lo=("lo", "min"), hi=("hi", "max"))
    tmin = int(t.min()) - 2 * window
    span = int(t.max()) - tmin + 4 * window
    if int(shop.max()) + 1 > np.iinfo(np.int64).max // max(span, 1):
        raise OverflowError("too many shops × time span for one sort key")
    # Only the shops that hold a run are sorted by time.
    rows = np.flatnonzero(np.isin(shop, np.unique(shops_a)))
    key = shop[rows] * span + (t[rows] - tmin)
    by_time_local = np.argsort(key, kind="stable")
    by_time = rows[by_time_local]
    key_sorted = key[by_time_local]
    seg_shop = seg["shop"].to_numpy()
    lo_pos = np.searchsorted(key_sorted, seg_shop * span + (seg["lo"].to_numpy() - tmin), "left")
    hi_pos = np.searchsorted(key_sorted, seg_shop * span + (seg["hi"].to_numpy() - tmin), "right")
    return [by_time[a:b] for a, b in zip(lo_pos.tolist(), hi_pos.tolist(), strict=True)]


@register("brushing_rule")
def concentration_rule(
    shop: np.ndarray,
    buyer: np.ndarray,
    t: np.ndarray,
    *,
    window_seconds: int,
    min_ratio: float,
) -> RuleResult:
    """Apply the concentration rule to orders given as shop codes, buyer codes and seconds.

    A shop's window ``[s, s + window_seconds]`` is a brushing period when
    ``orders ≥ min_ratio × distinct buyers``; its suspicious buyers are those with the most of
    its orders (ties: all). Exact over every window, overlapping ones and ties included; only the
    stretches that can hold a period are swept (see :func:`_segments`).
    """
    shop = np.asarray(shop, dtype=np.int64)
    buyer = np.asarray(buyer, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    n = len(t)
    flagged = np.zeros(n, dtype=bool)
    w_start = np.full(n, NO_TIME, dtype=np.int64)
    w_end = np.full(n, NO_TIME, dtype=np.int64)
    w_orders = np.zeros(n, dtype=np.int64)
    w_buyers = np.zeros(n, dtype=np.int64)
    rows: list[tuple[int, int, int, int, int, tuple[int, ...]]] = []
    for positions in _segments(shop, buyer, t, window_seconds, min_ratio):
        seg_t = t[positions]
        seg_u = buyer[positions]
        for a, e in _sweep(seg_t, seg_u.tolist(), window_seconds, min_ratio):
            ids, cnt = np.unique(seg_u[a:e], return_counts=True)
            top = ids[cnt == cnt.max()]
            members = positions[a:e][np.isin(seg_u[a:e], top)]
            fresh = members[~flagged[members]]
            flagged[fresh] = True
            w_start[fresh], w_end[fresh] = seg_t[a], seg_t[e - 1]
            w_orders[fresh], w_buyers[fresh] = e - a, len(ids)
            rows.append(
                (
                    int(shop[positions[0]]),
                    int(seg_t[a]),
                    int(seg_t[e - 1]),
                    e - a,
                    len(ids),
                    tuple(top.tolist()),
                )
            )
    windows = pd.DataFrame(
        rows, columns=["shop", "first", "last", "orders", "buyers", "suspicious"]
    ).astype({"shop": "int64", "first": "int64", "last": "int64"})
    return RuleResult(flagged, w_start, w_end, w_orders, w_buyers, windows)


# -- (b) rings: buyers who share windows beyond chance ------------------------------------------


def fraudar_peel(
    rows: np.ndarray,
    cols: np.ndarray,
    values: np.ndarray,
    n_rows: int,
    n_cols: int,
    col_weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Fraudar's greedy peeling: the block of highest weighted average degree.

    Edge ``(i, j)`` weighs ``e_ij = values_ij · col_weights_j``. Starting from the whole graph,
    repeatedly delete the node (row or column) whose remaining edges weigh least, and keep the
    node set ``S`` that maximised ``g(S) = Σ_{edges in S} e_ij / |S|``. Greedy peeling is within
    a factor 2 of the optimum (Hooi et al. 2016, Thm. 1). Ties go to the lower row, then column.

    Returns the row mask, the column mask and ``g`` of the block.
    """
    e = np.asarray(values, dtype=np.float64) * np.asarray(col_weights, dtype=np.float64)[cols]
    deg = np.concatenate(
        [np.bincount(rows, e, minlength=n_rows), np.bincount(cols, e, minlength=n_cols)]
    )
    # Adjacency as CSR over nodes 0..n_rows-1 (rows) then n_rows.. (columns).
    src = np.concatenate([rows, cols + n_rows])
    dst = np.concatenate([cols + n_rows, rows])
    adj = sparse.csr_matrix((np.concatenate([e, e]), (src, dst)), shape=(n_rows + n_cols,) * 2)
    indptr, indices, data = adj.indptr.tolist(), adj.indices.tolist(), adj.data.tolist()
    alive = [True] * (n_rows + n_cols)
    cur = deg.tolist()
    heap = [(d, i) for i, d in enumerate(cur)]
    heapq.heapify(heap)
    total = float(e.sum())
    left_rows, left_cols = n_rows, n_cols
    best = total / (n_rows + n_cols)
    removed: list[int] = []
    best_removed = 0
    while left_rows and left_cols:
        d, node = heapq.heappop(heap)
        if not alive[node] or d != cur[node]:
            continue
        alive[node] = False
        removed.append(node)
        total -= d
        if node < n_rows:
            left_rows -= 1
        else:
            left_cols -= 1
        for k in range(indptr[node], indptr[node + 1]):
            other = indices[k]
            if alive[other]:
                cur[other] -= data[k]
                heapq.heappush(heap, (cur[other], other))
        size = left_rows + left_cols
        if size and total / size > best:
            best, best_removed = total / size, len(removed)
    keep = np.ones(n_rows + n_cols, dtype=bool)
    keep[removed[:best_removed]] = False
    return keep[:n_rows], keep[n_rows:], best


@dataclass(frozen=True)
class Block:
    """One ring: its shop and buyer codes (ids in a report), its flagged orders, and Fraudar's
    average weighted degree of its buyers × shared windows (higher: denser)."""

    block_id: int
    shops: np.ndarray
    buyers: np.ndarray
    orders: int
    density: float


@dataclass(frozen=True)
class RingResult:
    """Result of :func:`ring_blocks`, aligned with the input orders: ``block_of[i]`` is the
    ring of order ``i`` when it lies in a window its buyer shares with the ring (−1 else),
    ``ring_shops[i]`` the number of shops where its buyer acts with its ring."""

    block_of: np.ndarray
    ring_shops: np.ndarray
    blocks: list[Block]


def _pairs_in_columns(col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(i, j)``, ``i < j``, of every two entries of a sorted column array that
    share a column."""
    n = len(col)
    if n == 0:
        z = np.zeros(0, np.int64)
        return z, z
    start = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    size = np.diff(np.r_[start, n])
    offset = np.arange(n) - np.repeat(start, size)
    later = np.repeat(size, size) - 1 - offset
    first = np.repeat(np.arange(n), later)
    run = np.repeat(np.cumsum(later) - later, later)
    second = first + 1 + (np.arange(len(first)) - run)
    return first, second


@register("brushing_blocks")
def ring_blocks(
    shop: np.ndarray, buyer: np.ndarray, t: np.ndarray, config: BlockConfig
) -> RingResult:
    """Rings of buyers who share (shop, window) columns far more often than chance.

    1. Columns are (shop, ``window_seconds`` bucket); a buyer's windows at a shop are the
       columns it ordered in; ``ρ_b`` is buyer ``b``'s windows per day of its active span there.
    2. Only windows with 2 to ``max_window_buyers`` buyers, of buyers with at least
       ``min_shared_windows`` of them, can link two buyers (pruned until stable).
    3. ``b`` lands in window ``c`` by chance with probability ``ρ_b·q_c``, ``q_c`` the larger
       of the long-run share of the shop's buyer-windows at ``c``'s hour of day and the share
       of ``c``'s day taken in ``c`` by buyers not linked to the buyer at hand (sharing fewer
       than ``min_shared_windows`` windows with it): a ring's own members do not explain it.
       A pair sharing ``C ≥ min_shared_windows`` windows is linked when
       ``P(Poisson(E) ≥ C) ≤ max_chance``, ``E = Σ_shops max(ρ_b·Q_a, ρ_a·Q_b)``, ``Q_a`` = Σ
       ``q_c`` over ``a``'s windows at the shop.
    4. Rings are the connected groups of linked pairs with ``min_ring_buyers`` buyers or more;
       their flagged windows are those a linked pair shares.

    One buyer alone never forms a ring, however often it orders.
    """
    shop = np.asarray(shop, dtype=np.int64)
    buyer = np.asarray(buyer, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    n = len(t)
    none = RingResult(np.full(n, -1, np.int64), np.zeros(n, np.int64), [])
    if n == 0 or not config.enabled:
        return none
    n_shops, n_buyers = int(shop.max()) + 1, int(buyer.max()) + 1
    base = int(t.min()) // config.window_seconds
    bucket = t // config.window_seconds - base
    n_bucket = int(bucket.max()) + 1
    if n_shops * n_bucket > np.iinfo(np.int64).max // n_buyers:
        raise OverflowError("too many shop-windows × buyers for one key")
    col = shop * n_bucket + bucket
    inc, order_inc = np.unique(col * n_buyers + buyer, return_inverse=True)
    order_inc = order_inc.ravel()
    inc_col, inc_buyer = inc // n_buyers, inc % n_buyers
    inc_shop = inc_col // n_bucket
    start = np.flatnonzero(np.r_[True, inc_col[1:] != inc_col[:-1]])
    col_size = np.diff(np.r_[start, len(inc)])
    inc_deg = np.repeat(col_size, col_size)
    # the shop's buyer-windows on each window's day, and each window's slot of the day
    slots = -(-86_400 // config.window_seconds)
    inc_abs = base + inc_col % n_bucket  # whole windows since the epoch
    inc_day = inc_abs * config.window_seconds // 86_400
    inc_day -= int(inc_day.min())
    inc_slot = inc_abs % slots
    n_days = int(inc_day.max()) + 1
    _, sd_idx, sd_n = np.unique(
        inc_shop * n_days + inc_day, return_inverse=True, return_counts=True
    )
    day_windows = sd_n[sd_idx.ravel()].astype(np.float64)
    # per (buyer, shop): windows per day of its active span there
    bs_keys, bs_idx = np.unique(inc_buyer * n_shops + inc_shop, return_inverse=True)
    bs_idx = bs_idx.ravel()
    first_day = np.full(len(bs_keys), n_days, np.int64)
    last_day = np.zeros(len(bs_keys), np.int64)
    np.minimum.at(first_day, bs_idx, inc_day)
    np.maximum.at(last_day, bs_idx, inc_day)
    bs_rate = np.bincount(bs_idx) / (last_day - first_day + 1)
    # 2. prune to windows that can link buyers
    m = config.min_shared_windows
    keep = (inc_deg >= 2) & (inc_deg <= config.max_window_buyers)
    col_of_inc = np.repeat(np.arange(len(start)), col_size)
    while True:
        per_buyer = np.bincount(inc_buyer[keep], minlength=n_buyers)
        k2 = keep & (per_buyer[inc_buyer] >= m)
        per_col = np.bincount(col_of_inc[k2], minlength=len(start))
        k2 &= per_col[col_of_inc] >= 2
        if (k2 == keep).all():
            break
        keep = k2
    cand = np.flatnonzero(keep)
    first, second = _pairs_in_columns(inc_col[cand])
    a, b = inc_buyer[cand[first]], inc_buyer[cand[second]]
    pair_keys, pair_idx, shared = np.unique(
        a * n_buyers + b, return_inverse=True, return_counts=True
    )
    pair_idx = pair_idx.ravel()
    often = np.flatnonzero(shared >= m)
    if len(often) == 0:
        return none
    # 3. the chance of meeting in a window: at least the window's hour's long-run share of the
    # shop's traffic, and at least the share of the day's traffic that buyers not linked to the
    # buyer at hand (who share fewer than m windows with it) hold in the window
    repeat = shared[pair_idx] >= m
    linked_others = np.bincount(
        np.r_[cand[first[repeat]], cand[second[repeat]]], minlength=len(inc)
    )
    # the profile counts windows of unlinked buyers only (Laplace-smoothed), so a ring does not
    # make its own hours look busy in a small shop
    free = linked_others == 0
    slot_key = inc_shop * slots + inc_slot
    slot_n = np.bincount(slot_key[free], minlength=n_shops * slots)
    shop_n = np.bincount(inc_shop[free], minlength=n_shops)
    slot_share = (slot_n[slot_key] + 1.0) / (shop_n[inc_shop] + slots)
    q = np.maximum(slot_share, (inc_deg - 1 - linked_others) / day_windows)
    bs_q = np.bincount(bs_idx, q)
    sel = np.flatnonzero(np.isin(pair_idx, often))
    ps_keys = np.unique(pair_idx[sel] * n_shops + inc_shop[cand[first[sel]]])
    ps_pair, ps_shop = ps_keys // n_shops, ps_keys % n_shops
    pa_, pb_ = pair_keys[ps_pair] // n_buyers, pair_keys[ps_pair] % n_buyers
    ia = np.searchsorted(bs_keys, pa_ * n_shops + ps_shop)
    ib = np.searchsorted(bs_keys, pb_ * n_shops + ps_shop)
    expect_s = np.maximum(bs_rate[ib] * bs_q[ia], bs_rate[ia] * bs_q[ib])
    expect = np.bincount(ps_pair, expect_s, minlength=len(pair_keys))
    chance = stats.poisson.sf(shared[often] - 1, expect[often])
    linked = often[chance <= config.max_chance]
    if len(linked) == 0:
        return none
    # 4. rings: connected groups of linked pairs
    la, lb = pair_keys[linked] // n_buyers, pair_keys[linked] % n_buyers
    nodes, node_idx = np.unique(np.r_[la, lb], return_inverse=True)
    node_idx = node_idx.ravel()
    graph = sparse.coo_matrix(
        (np.ones(len(linked)), (node_idx[: len(linked)], node_idx[len(linked) :])),
        shape=(len(nodes), len(nodes)),
    )
    _, label = connected_components(graph, directed=False)
    size = np.bincount(label)
    ring_of_buyer = np.full(n_buyers, -1, np.int64)
    big = size[label] >= config.min_ring_buyers
    # ring ids in order of their smallest buyer code, so they do not depend on row order
    _, ring_id = np.unique(label[big], return_inverse=True)
    ring_of_buyer[nodes[big]] = ring_id.ravel()
    is_linked = np.zeros(len(pair_keys), bool)
    is_linked[linked] = True
    inst = np.flatnonzero(is_linked[pair_idx] & (ring_of_buyer[a] >= 0))
    inc_ring = np.full(len(inc), -1, np.int64)
    for side in (first, second):
        pos = cand[side[inst]]
        inc_ring[pos] = ring_of_buyer[inc_buyer[pos]]
    flagged_inc = np.flatnonzero(inc_ring >= 0)
    # shops where each buyer acts with its ring
    bshop = np.unique(inc_buyer[flagged_inc] * n_shops + inc_shop[flagged_inc])
    shops_of_buyer = np.bincount(bshop // n_shops, minlength=n_buyers)
    block_of = inc_ring[order_inc]
    ring_shops = np.where(block_of >= 0, shops_of_buyer[buyer], 0)
    ring_orders = np.bincount(block_of[block_of >= 0], minlength=int(inc_ring.max()) + 1)
    blocks = []
    for r in range(int(inc_ring.max()) + 1):
        mine = flagged_inc[inc_ring[flagged_inc] == r]
        rows, r_idx = np.unique(inc_buyer[mine], return_inverse=True)
        cols, c_idx = np.unique(inc_col[mine], return_inverse=True)
        n_orders = int(ring_orders[r])
        weights = 1.0 / np.log(inc_deg[mine][np.unique(c_idx.ravel(), return_index=True)[1]] + 5)
        _, _, density = fraudar_peel(
            r_idx.ravel(), c_idx.ravel(), np.ones(len(mine)), len(rows), len(cols), weights
        )
        blocks.append(Block(r, np.unique(cols // n_bucket), rows, n_orders, float(density)))
    return RingResult(block_of, ring_shops, blocks)


# -- evidence and confidence -------------------------------------------------------------------


def _evidence(
    orders: pd.DataFrame,
    idx: np.ndarray,
    shop: np.ndarray,
    buyer: np.ndarray,
    t: np.ndarray,
    config: EvidenceConfig,
) -> dict[str, np.ndarray]:
    """The corroborating signals of the flagged orders ``idx`` (only those whose columns are
    in ``orders``): each a boolean array aligned with ``idx``."""
    out: dict[str, np.ndarray] = {}
    wanted = set(config.corroborating)
    if SIGNAL_FRESH_ACCOUNT in wanted and len(t):
        first_seen = np.full(int(buyer.max()) + 1, np.iinfo(np.int64).max)
        np.minimum.at(first_seen, buyer, t)
        first_flag = np.full(len(first_seen), np.iinfo(np.int64).max)
        np.minimum.at(first_flag, buyer[idx], t[idx])
        days = int(config.fresh_days * 86400)
        fb, ff = first_seen[buyer[idx]], first_flag[buyer[idx]]
        out[SIGNAL_FRESH_ACCOUNT] = (fb >= int(t.min()) + days) & (ff - fb <= days)
    if SIGNAL_LOW_VALUE in wanted and "amount" in orders.columns:
        amount = orders["amount"].to_numpy(dtype=np.float64)
        by_shop = pd.Series(amount).groupby(shop)
        cut = by_shop.quantile(config.low_value_quantile).reindex(shop[idx]).to_numpy()
        mid = by_shop.median().reindex(shop[idx]).to_numpy()
        # below the median too, so a shop whose orders all cost the same has no low values
        out[SIGNAL_LOW_VALUE] = (amount[idx] <= cut) & (amount[idx] < mid)
    if SIGNAL_UNFULFILLED in wanted and "status" in orders.columns:
        o = orders.iloc[idx]
        gone = o["status"].isin(["refunded", "cancelled"]).to_numpy().copy()
        if "refund_amount" in o.columns:
            gone |= o["refund_amount"].fillna(0).to_numpy(dtype=np.float64) > 0
        if {"shipped_at", "promised_ship_by"} <= set(o.columns):
            last = pd.Timestamp(orders["paid_at"].max())
            due = pd.to_datetime(o["promised_ship_by"]) < last
            gone |= (o["shipped_at"].isna() & due).to_numpy()
        out[SIGNAL_UNFULFILLED] = gone
    if SIGNAL_NO_REVIEW in wanted and "reviewed" in orders.columns:
        out[SIGNAL_NO_REVIEW] = ~orders["reviewed"].to_numpy(dtype=bool)[idx]
    return out


def confidence(signals: dict[str, np.ndarray], min_signals: int) -> np.ndarray:
    """``high`` where at least ``min_signals`` signals fired and one of them is a ring signal
    (several buyers acting together), ``review`` elsewhere."""
    n = len(next(iter(signals.values()))) if signals else 0
    count = np.zeros(n, np.int64)
    ring = np.zeros(n, bool)
    for name, fired in signals.items():
        count += fired
        if name in RING_SIGNALS:
            ring |= fired
    return np.where((count >= min_signals) & ring, CONFIDENCE_HIGH, CONFIDENCE_REVIEW)


# -- both, over an order table -----------------------------------------------------------------


@dataclass(frozen=True)
class BrushingReport:
    """High-confidence flags (``mdl_brushing_orders``), every flag with its evidence
    (``mdl_brushing_review``), the rule's periods and the rings."""

    flagged: pd.DataFrame
    review: pd.DataFrame
    windows: pd.DataFrame
    blocks: list[Block]


@register("brushing")
def detect_brushing(orders: pd.DataFrame, config: BrushingConfig) -> BrushingReport:
    """Run the concentration rule and the ring detector over ``orders``, weigh each flag's
    evidence and split the flags into high-confidence and review.

    ``orders`` has at least order_id, brand_id, buyer_id and paid_at; the other columns of
    :func:`brushing_input` (amount, status, shipping, reviewed) feed the signals that need them.
    ``method`` says which detector flagged an order (``rule``, ``block`` or ``rule+block``).
    """
    shop, shop_row = encode(orders, "brand_id")
    buyer, buyer_row = encode(orders, "buyer_id")
    brand_col = orders["brand_id"].to_numpy()
    buyer_col = orders["buyer_id"].to_numpy()
    shop_ids, buyer_ids = brand_col[shop_row], buyer_col[buyer_row]
    t = seconds(orders["paid_at"])
    rule = concentration_rule(
        shop, buyer, t, window_seconds=config.window_seconds, min_ratio=config.min_ratio
    )
    rings = ring_blocks(shop, buyer, t, config.blocks)
    by_block = rings.block_of >= 0
    sel = np.flatnonzero(rule.flagged | by_block)
    signals = {
        SIGNAL_CONCENTRATION: rule.flagged[sel],
        SIGNAL_DENSE_BLOCK: by_block[sel],
        SIGNAL_CO_SHOP: rings.ring_shops[sel] >= 2,
    }
    signals.update(_evidence(orders, sel, shop, buyer, t, config.evidence))
    names = np.array([n for n in SIGNALS if n in signals])
    fired = np.stack([signals[n] for n in names], axis=1) if len(sel) else np.zeros((0, 0), bool)
    labels = ["+".join(names[row]) for row in fired]
    method = np.where(
        rule.flagged[sel] & by_block[sel],
        METHOD_BOTH,
        np.where(rule.flagged[sel], METHOD_RULE, METHOD_BLOCK),
    )

    def _ts(v: np.ndarray) -> pd.Series:
        out = pd.Series(v.astype("datetime64[s]")).astype("datetime64[us]")
        return out.where(v != NO_TIME)

    review = pd.DataFrame(
        {
            "order_id": orders["order_id"].to_numpy()[sel],
            "brand_id": brand_col[sel],
            "buyer_id": buyer_col[sel],
            "paid_at": pd.to_datetime(orders["paid_at"].to_numpy()[sel]).astype("datetime64[us]"),
            "method": method,
            "window_start": _ts(rule.window_start[sel]).to_numpy(),
            "window_end": _ts(rule.window_end[sel]).to_numpy(),
            "window_orders": rule.window_orders[sel],
            "window_buyers": rule.window_buyers[sel],
            "block_id": rings.block_of[sel],
            "signals": pd.Series(labels, dtype=object),
            "n_signals": fired.sum(axis=1).astype(np.int64) if len(sel) else np.zeros(0, np.int64),
            "confidence": confidence(signals, config.evidence.min_signals),
        },
        columns=list(FLAGGED_COLUMNS),
    )
    windows = rule.windows.assign(
        brand_id=shop_ids[rule.windows["shop"].to_numpy()] if len(rule.windows) else [],
        suspicious_buyers=[
            ",".join(str(b) for b in buyer_ids[list(s)]) for s in rule.windows["suspicious"]
        ],
        first=_ts(rule.windows["first"].to_numpy()),
        last=_ts(rule.windows["last"].to_numpy()),
    ).drop(columns=["shop", "suspicious"])
    named_blocks = [
        Block(b.block_id, shop_ids[b.shops], buyer_ids[b.buyers], b.orders, b.density)
        for b in rings.blocks
    ]
    high = review[review["confidence"] == CONFIDENCE_HIGH].reset_index(drop=True)
    return BrushingReport(high, review, windows, named_blocks)


# -- accuracy against planted truth --------------------------------------------------------------


def precision_recall(flagged: Iterable[object], truth: Iterable[object]) -> tuple[float, float]:
    """Precision and recall of a flagged set against a true set (1.0 for an empty denominator)."""
    f, t = set(flagged), set(truth)
    hit = len(f & t)
    return (hit / len(f) if f else 1.0, hit / len(t) if t else 1.0)


def evaluate(flagged: pd.DataFrame, rings: pd.DataFrame) -> pd.DataFrame:
    """Precision and recall of flagged buyers, shops and orders per method and combined.

    ``rings`` is the planted truth (``truth/brushing_rings.parquet``: ring_id, brand_id,
    buyer_id, order_id). A buyer counts as caught when any of its orders is flagged.
    """
    out = []
    methods = {
        METHOD_RULE: flagged["method"].isin([METHOD_RULE, METHOD_BOTH]),
        METHOD_BLOCK: flagged["method"].isin([METHOD_BLOCK, METHOD_BOTH]),
        "combined": pd.Series(True, index=flagged.index),
    }
    for name, mask in methods.items():
        f = flagged[mask]
        row: dict[str, object] = {"method": name}
        for level in ("buyer_id", "brand_id", "order_id"):
            p, r = precision_recall(f[level], rings[level])
            row[f"{level.removesuffix('_id')}_precision"] = p
            row[f"{level.removesuffix('_id')}_recall"] = r
        out.append(row)
    return pd.DataFrame(out)


def bar_figures(
    flagged: pd.DataFrame, orders_per_brand: pd.Series, rings: pd.DataFrame | None = None
) -> dict[str, float | int | str]:
    """The figures brushing detection is held to, for one market.

    ``flagged`` are the high-confidence flags, ``orders_per_brand`` every brand's order count
    (brands without flags included), ``rings`` the planted truth (with a ``kind`` column when
    the simulator wrote one). Returns the flagged share of all orders, the largest share of one
    brand's orders (and that brand), and per ring kind the precision and recall of flagged
    buyers and shops. A kind's precision counts the flags outside its rings that belong to no
    other kind's ring as false, so kinds planted in one market are measured apart.
    """
    total = int(orders_per_brand.sum())
    per_brand = flagged.groupby("brand_id").size().reindex(orders_per_brand.index, fill_value=0)
    share = per_brand / orders_per_brand.clip(lower=1)
    out: dict[str, float | int | str] = {
        "orders": total,
        "flagged_orders": len(flagged),
        "flagged_share": len(flagged) / total if total else 0.0,
        "max_brand_share": float(share.max()) if len(share) else 0.0,
        "max_brand": str(share.idxmax()) if len(share) and share.max() > 0 else "",
    }
    if rings is None or rings.empty:
        return out
    kinds = rings["kind"] if "kind" in rings.columns else pd.Series("all", index=rings.index)
    for kind in sorted(set(kinds)):
        mine, other = rings[kinds == kind], rings[kinds != kind]
        for level, name in (("buyer_id", "buyer"), ("brand_id", "shop")):
            truth = set(mine[level])
            f = set(flagged[level]) - (set(other[level]) - truth)
            p, r = precision_recall(f, truth)
            out[f"{kind}_{name}_precision"] = p
            out[f"{kind}_{name}_recall"] = r
    return out
