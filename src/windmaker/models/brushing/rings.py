"""Rings: groups of buyers who share (shop, time-window) columns far more often than chance, found
as dense blocks (FRAUDAR-style peeling) of the buyer × window graph.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.csgraph import connected_components

from windmaker.models.brushing.config import BlockConfig


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


@dataclass(frozen=True)
class Incidences:
    """Buyer × (shop, window) incidences: one row per buyer who ordered at a shop in a window
    (``window`` = whole ``window_seconds`` since the epoch), with the buyers of its window
    (``degree``), the shop's incidences on its day (``day_windows``) and its orders.

    Codes are dense and follow the ids' 64-bit hashes, so every ordering below (pairs, ring ids,
    Fraudar's ties) is the same whichever subset of the codes a caller holds.
    """

    shop: np.ndarray
    window: np.ndarray
    buyer: np.ndarray
    degree: np.ndarray
    day_windows: np.ndarray
    orders: np.ndarray

    def __len__(self) -> int:
        return len(self.shop)

    def take(self, idx: np.ndarray) -> Incidences:
        return Incidences(*(np.asarray(getattr(self, f.name))[idx] for f in fields(self)))


#: Slot counts: (shop, slot, incidences) of all the incidences of some shops, per slot of the day.
SlotCounts = tuple[np.ndarray, np.ndarray, np.ndarray]
#: For the given (shop codes, buyer codes) pairs: every incidence of theirs, and the slot counts
#: of their shops (one lookup, so an engine groups those shops' orders once).
AroundLookup = Callable[[np.ndarray, np.ndarray], tuple[Incidences, SlotCounts]]


def positions(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The position of each of ``values`` among the distinct ``keys``, −1 where it is not one.

    A hash table's lookup (pandas' index), not a binary search of the sorted keys
    (``np.searchsorted``): over values in no order every step of the search misses the cache
    (2.3M hashes among 200,000 keys: 0.06 s against 0.6 s)."""
    return np.asarray(pd.Index(keys).get_indexer(values), dtype=np.int64)


def distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)``: the distinct values, sorted. Found by hashing and only they are
    sorted, where ``np.unique`` sorts every value (2.4M hashes with 300,000 distinct: 0.19 s
    against 1.03 s, the machine shared)."""
    return np.sort(np.asarray(pd.unique(np.asarray(values))))


def distinct_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)``: the sorted distinct values and the position
    of each value among them, by hashing as :func:`distinct` (0.29 s against 0.67 s on 2.4M
    hashes with 300,000 distinct)."""
    codes, uniques = pd.factorize(np.asarray(values), sort=True)
    return np.asarray(uniques), np.asarray(codes, dtype=np.int64)


def present(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """:func:`positions` of values that are all among the keys: one that is not fails loudly,
    where a lookup would give a wrong row."""
    at = positions(keys, values)
    if len(at) and int(at.min()) < 0:
        raise ValueError("a value looked up is not among the keys")
    return at


@dataclass(frozen=True)
class SharedWindows:
    """The windows that pairs of buyers share, for the pairs that share at least
    ``min_shared_windows`` windows of 2 to ``max_window_buyers`` buyers: one row per (shop,
    window, pair), ``a`` and ``b`` the pair's buyer codes.

    Pairs that share fewer windows can never be linked, and they are nearly all of the pairs
    in a market with loyal fans: fans of one shop meet in its busy hours. On 21M simulated
    orders the windows that can link buyers hold 12M incidences and 45M pairs of buyers, of
    which 196,010 pairs share two windows or more.
    """

    shop: np.ndarray
    window: np.ndarray
    a: np.ndarray
    b: np.ndarray

    def __len__(self) -> int:
        return len(self.shop)


@dataclass(frozen=True)
class RingCore:
    """What :func:`find_rings` returns: the incidences in a window their buyer shares with its
    ring (sorted by shop, window, buyer) and the ring of each, the shops per buyer code where it
    acts with its ring, and the rings with shop and buyer codes."""

    flagged: Incidences
    ring: np.ndarray
    shops_of_buyer: np.ndarray
    blocks: list[Block]


def _columns(inc: Incidences) -> np.ndarray:
    """The column (shop, window) number of each incidence, ``inc`` sorted by shop, window."""
    if len(inc) == 0:
        return np.zeros(0, np.int64)
    new_col = np.r_[True, (inc.shop[1:] != inc.shop[:-1]) | (inc.window[1:] != inc.window[:-1])]
    return np.cumsum(new_col) - 1


def prune(inc: Incidences, config: BlockConfig, n_buyers: int) -> np.ndarray:
    """Mask of the incidences that can link buyers, ``inc`` sorted by shop, window, buyer.

    Windows with 2 to ``max_window_buyers`` buyers, of buyers with at least
    ``min_shared_windows`` such windows, in windows still holding 2 of them, until stable. The
    step only removes, and never an incidence of a pair that shares ``min_shared_windows`` such
    windows, so it leaves :func:`shared_windows` unchanged.
    """
    m = config.min_shared_windows
    col_of_inc = _columns(inc)
    n_cols = int(col_of_inc[-1]) + 1 if len(inc) else 0
    keep = (inc.degree >= 2) & (inc.degree <= config.max_window_buyers)
    while True:
        per_buyer = np.bincount(inc.buyer[keep], minlength=n_buyers)
        k2 = keep & (per_buyer[inc.buyer] >= m)
        per_col = np.bincount(col_of_inc[k2], minlength=n_cols)
        k2 &= per_col[col_of_inc] >= 2
        if (k2 == keep).all():
            return keep
        keep = k2


def shared_windows(inc: Incidences, config: BlockConfig, n_buyers: int) -> SharedWindows:
    """:class:`SharedWindows` of incidences held in memory (sorted by shop, window, buyer)."""
    pos = np.flatnonzero(prune(inc, config, n_buyers))
    first, second = _pairs_in_columns(_columns(inc)[pos])
    a, b = inc.buyer[pos[first]], inc.buyer[pos[second]]
    _, pair_idx, shared = np.unique(a * n_buyers + b, return_inverse=True, return_counts=True)
    often = np.flatnonzero(shared[pair_idx.ravel()] >= config.min_shared_windows)
    at = pos[first[often]]
    return SharedWindows(inc.shop[at], inc.window[at], a[often], b[often])


def _incidence_key(
    shop: np.ndarray, window: np.ndarray, buyer: np.ndarray, lo: int, span: int, n_buyers: int
) -> np.ndarray:
    return (shop * span + (window - lo)) * n_buyers + buyer


def find_rings(
    shared: SharedWindows,
    n_shops: int,
    n_buyers: int,
    around: AroundLookup,
    config: BlockConfig,
) -> RingCore:
    """Rings among the pairs that share windows often enough (:class:`SharedWindows`): the
    numeric core shared by the in-memory detector (:func:`ring_blocks`) and the warehouse one
    (:mod:`.warehouse`).

    The chance model needs, for the buyer-shop pairs of those pairs, all their incidences
    and their shops' incidences per slot of the day, both from ``around``; the linked
    ones are subtracted here.
    """
    empty = Incidences(*(np.zeros(0, np.int64) for _ in fields(Incidences)))
    none = RingCore(empty, np.zeros(0, np.int64), np.zeros(n_buyers, np.int64), [])
    if len(shared) == 0:
        return none
    w = config.window_seconds
    slots = -(-86_400 // w)
    a = np.minimum(shared.a, shared.b)
    b = np.maximum(shared.a, shared.b)
    pair_keys, pair_idx = distinct_codes(a * n_buyers + b)
    count = np.bincount(pair_idx, minlength=len(pair_keys))
    # 3. the chance of meeting in a window: at least the window's hour's long-run share of the
    # shop's traffic, and at least the share of the day's traffic that buyers not linked to the
    # buyer at hand (who share fewer than m windows with it) hold in the window
    ps_keys = distinct(pair_idx * n_shops + shared.shop)
    ps_pair, ps_shop = ps_keys // n_shops, ps_keys % n_shops
    pa_, pb_ = pair_keys[ps_pair] // n_buyers, pair_keys[ps_pair] % n_buyers
    need = distinct(np.r_[pa_ * n_shops + ps_shop, pb_ * n_shops + ps_shop])
    near, (s_shop, s_slot, s_n) = around(need % n_shops, need // n_shops)
    lo = int(near.window.min())
    span = int(near.window.max()) - lo + 1
    if n_shops * span > np.iinfo(np.int64).max // n_buyers:
        raise OverflowError("too many shop-windows × buyers for one key")
    # one int64 key in (shop, window, buyer) order: its sort is a third of a three-key lexsort
    # (2.4M incidences at 21M orders: 0.7 s → 0.25 s)
    near_key = _incidence_key(near.shop, near.window, near.buyer, lo, span, n_buyers)
    by_key = np.argsort(near_key, kind="stable")
    near, near_key = near.take(by_key), near_key[by_key]
    # each shared window is two incidences of ``near``: the buyers each one is linked to there
    at_a = present(near_key, _incidence_key(shared.shop, shared.window, a, lo, span, n_buyers))
    at_b = present(near_key, _incidence_key(shared.shop, shared.window, b, lo, span, n_buyers))
    near_linked = np.bincount(np.r_[at_a, at_b], minlength=len(near))
    # the profile counts windows of unlinked buyers only (Laplace-smoothed), so a ring does not
    # make its own hours look busy in a small shop
    slot_n = np.bincount(s_shop * slots + s_slot, s_n, minlength=n_shops * slots).astype(np.int64)
    busy = near_linked > 0
    np.subtract.at(slot_n, near.shop[busy] * slots + near.window[busy] % slots, 1)
    shop_n = slot_n.reshape(n_shops, slots).sum(axis=1)
    near_shop, near_slot = near.shop, near.window % slots
    slot_share = (slot_n[near_shop * slots + near_slot] + 1.0) / (shop_n[near_shop] + slots)
    q = np.maximum(
        slot_share,
        (near.degree - 1 - near_linked) / np.asarray(near.day_windows, dtype=np.float64),
    )
    # per (buyer, shop): windows per day of its active span there, and Σ q over its windows
    bs_keys, bs_idx = distinct_codes(near.buyer * n_shops + near.shop)
    day = near.window * w // 86_400
    first_day = np.full(len(bs_keys), np.iinfo(np.int64).max, np.int64)
    last_day = np.full(len(bs_keys), np.iinfo(np.int64).min, np.int64)
    np.minimum.at(first_day, bs_idx, day)
    np.maximum.at(last_day, bs_idx, day)
    bs_rate = np.bincount(bs_idx) / (last_day - first_day + 1)
    bs_q = np.bincount(bs_idx, q)
    ia = present(bs_keys, pa_ * n_shops + ps_shop)
    ib = present(bs_keys, pb_ * n_shops + ps_shop)
    expect_s = np.maximum(bs_rate[ib] * bs_q[ia], bs_rate[ia] * bs_q[ib])
    expect = np.bincount(ps_pair, expect_s, minlength=len(pair_keys))
    chance = stats.poisson.sf(count - 1, expect)
    linked = np.flatnonzero(chance <= config.max_chance)
    if len(linked) == 0:
        return none
    # 4. rings: connected groups of linked pairs
    la, lb = pair_keys[linked] // n_buyers, pair_keys[linked] % n_buyers
    nodes, node_idx = distinct_codes(np.r_[la, lb])
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
    ring = np.full(len(near), -1, np.int64)
    for at in (at_a, at_b):
        ring[at[inst]] = ring_of_buyer[a[inst]]
    hit = np.flatnonzero(ring >= 0)
    if len(hit) == 0:  # linked pairs, but no group of min_ring_buyers
        return none
    flagged, ring = near.take(hit), ring[hit]
    # shops where each buyer acts with its ring
    bshop = np.unique(flagged.buyer * n_shops + flagged.shop)
    shops_of_buyer = np.bincount(bshop // n_shops, minlength=n_buyers)
    n_rings = int(ring.max()) + 1
    ring_orders = np.bincount(ring, flagged.orders, minlength=n_rings).astype(np.int64)
    col_id = _columns(flagged)
    blocks = []
    for r in range(n_rings):
        mine = np.flatnonzero(ring == r)
        rows, r_idx = np.unique(flagged.buyer[mine], return_inverse=True)
        cols, c_idx = np.unique(col_id[mine], return_inverse=True)
        weights = 1.0 / np.log(
            flagged.degree[mine][np.unique(c_idx.ravel(), return_index=True)[1]] + 5
        )
        _, _, density = fraudar_peel(
            r_idx.ravel(), c_idx.ravel(), np.ones(len(mine)), len(rows), len(cols), weights
        )
        shops = np.unique(flagged.shop[mine])
        blocks.append(Block(r, shops, rows, int(ring_orders[r]), float(density)))
    return RingCore(flagged, ring, shops_of_buyer, blocks)


def incidences(
    shop: np.ndarray, buyer: np.ndarray, t: np.ndarray, window_seconds: int
) -> tuple[Incidences, np.ndarray]:
    """The incidences of orders given as codes and seconds, sorted by shop, window, buyer, and
    each order's incidence."""
    n_shops, n_buyers = int(shop.max()) + 1, int(buyer.max()) + 1
    window = t // window_seconds
    base = int(window.min())
    n_bucket = int(window.max()) - base + 1
    if n_shops * n_bucket > np.iinfo(np.int64).max // n_buyers:
        raise OverflowError("too many shop-windows × buyers for one key")
    col = shop * n_bucket + (window - base)
    inc, order_inc = np.unique(col * n_buyers + buyer, return_inverse=True)
    order_inc = order_inc.ravel()
    inc_col, inc_buyer = inc // n_buyers, inc % n_buyers
    inc_shop, inc_window = inc_col // n_bucket, base + inc_col % n_bucket
    start = np.flatnonzero(np.r_[True, inc_col[1:] != inc_col[:-1]])
    col_size = np.diff(np.r_[start, len(inc)])
    inc_day = inc_window * window_seconds // 86_400
    inc_day -= int(inc_day.min())
    _, sd_idx, sd_n = np.unique(
        inc_shop * (int(inc_day.max()) + 1) + inc_day, return_inverse=True, return_counts=True
    )
    found = Incidences(
        shop=inc_shop,
        window=inc_window,
        buyer=inc_buyer,
        degree=np.repeat(col_size, col_size),
        day_windows=sd_n[sd_idx.ravel()],
        orders=np.bincount(order_inc, minlength=len(inc)),
    )
    return found, order_inc


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

    One buyer alone never forms a ring, however often it orders. The work is
    :func:`find_rings` over the pairs of all the incidences (:func:`shared_windows`), with
    lookups into the same arrays.
    """
    shop = np.asarray(shop, dtype=np.int64)
    buyer = np.asarray(buyer, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    n = len(t)
    none = RingResult(np.full(n, -1, np.int64), np.zeros(n, np.int64), [])
    if n == 0 or not config.enabled:
        return none
    n_shops, n_buyers = int(shop.max()) + 1, int(buyer.max()) + 1
    inc, order_inc = incidences(shop, buyer, t, config.window_seconds)
    slots = -(-86_400 // config.window_seconds)

    def around(shops: np.ndarray, buyers: np.ndarray) -> tuple[Incidences, SlotCounts]:
        wanted = np.isin(inc.buyer * n_shops + inc.shop, buyers * n_shops + shops)
        mine = np.flatnonzero(np.isin(inc.shop, shops))
        keys, counts = np.unique(
            inc.shop[mine] * slots + inc.window[mine] % slots, return_counts=True
        )
        return inc.take(np.flatnonzero(wanted)), (keys // slots, keys % slots, counts)

    core = find_rings(shared_windows(inc, config, n_buyers), n_shops, n_buyers, around, config)
    # the flagged incidences are incidences of ``inc``, which is sorted the same way
    lo, span = int(inc.window.min()), int(inc.window.max() - inc.window.min()) + 1
    inc_key = _incidence_key(inc.shop, inc.window, inc.buyer, lo, span, n_buyers)
    f = core.flagged
    ring_of_inc = np.full(len(inc), -1, np.int64)
    ring_of_inc[present(inc_key, _incidence_key(f.shop, f.window, f.buyer, lo, span, n_buyers))] = (
        core.ring
    )
    block_of = ring_of_inc[order_inc]
    ring_shops = np.where(block_of >= 0, core.shops_of_buyer[buyer], 0)
    return RingResult(block_of, ring_shops, core.blocks)
