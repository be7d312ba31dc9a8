"""Rings: groups of buyers who share (shop, time-window) columns far more often than chance, found
as dense blocks (FRAUDAR-style peeling) of the buyer × window graph.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
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
