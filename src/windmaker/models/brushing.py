"""Order brushing (刷单) detection: the concentration rule, dense buyer–shop blocks, and both.

Two detectors, combined by union:

* **Concentration rule** (the definition used in public order-brushing competitions). For one
  shop, a *window* is a closed interval ``[s, s + H]`` of the time line (``H`` = one hour, ``s``
  any instant). A window is a *brushing period* when it holds at least one order and

      orders(window) / distinct buyers(window) ≥ min_ratio   (3 by default).

  The *suspicious buyers* of a brushing period are the buyers with the highest number of its
  orders (every buyer tied at the top). Their orders inside the period are flagged. Every window
  counts, overlapping ones included; timestamps are compared at one-second resolution.

* **Dense blocks** (Fraudar, Hooi et al., KDD 2016): greedy peeling of the bipartite graph of
  buyers × (shop, day) (edge value = orders of the buyer at the shop that day, column weight
  ``1 / log(column degree + c)``) finds the subgraph of highest average weighted degree; blocks
  dense enough in orders per node are brushing rings, and their buyers' orders in the block's
  shop-days are flagged. Days as columns keep loyal repeat buyers, who order on different
  days, apart from a ring, whose members order together at one shop on the same nights.

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
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from windmaker import contract
from windmaker.models.registry import register

#: Columns of ``mdl_brushing_orders``, the orders flagged for review (and excluded from GMV).
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
)
METHOD_RULE = "rule"
METHOD_FRAUDAR = "fraudar"
METHOD_BOTH = "rule+fraudar"
NO_TIME = np.iinfo(np.int64).min


class FraudarConfig(BaseModel):
    """Dense-subgraph detection settings (``trust.yaml`` → ``brushing.fraudar``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool
    min_pair_orders: int = Field(ge=1)
    log_offset: float = Field(gt=1.0)
    min_block_density: float = Field(gt=0)
    min_block_buyers: int = Field(ge=1)
    max_blocks: int = Field(ge=1)
    expand_share: float = Field(ge=0)
    bucket_seconds: int = Field(ge=0)


class BrushingConfig(BaseModel):
    """Brushing detection settings (``trust.yaml`` → ``brushing``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_seconds: int = Field(ge=1)
    min_ratio: float = Field(gt=0)
    fraudar: FraudarConfig


# -- the warehouse side ----------------------------------------------------------------------


def brushing_input(orders: ibis.Table) -> ibis.Table:
    """The order stream both detectors read: one row per order, every status included, with
    64-bit hashes of the shop and buyer ids computed by the engine (``*_key``).

    Cancelled orders stay in: a brusher's cancelled fake orders are evidence too.
    """
    o = contract.ORDERS
    cols = ("order_id", "brand_id", "buyer_id", "paid_at")
    for c in cols:
        o.column(c)  # fails loudly if the contract renames a column
    return orders.select(
        *cols, brand_id_key=orders.brand_id.hash(), buyer_id_key=orders.buyer_id.hash()
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


# -- (b) dense buyer–shop blocks (Fraudar) ----------------------------------------------------


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
    """One dense buyer–shop block: its codes, orders, and orders per node."""

    block_id: int
    shops: np.ndarray
    buyers: np.ndarray
    orders: int
    density: float


@register("brushing_fraudar")
def dense_blocks(
    pair_shop: np.ndarray,
    pair_buyer: np.ndarray,
    pair_orders: np.ndarray,
    shop_degree: np.ndarray,
    config: FraudarConfig,
) -> list[Block]:
    """Dense blocks in the graph of (buyer, column) pairs with at least ``min_pair_orders``
    orders; a column is a shop or a (shop, day), and the returned ``shops`` are column codes.

    Each connected component is peeled (:func:`fraudar_peel`) repeatedly: a block is accepted
    while ``orders / (buyers + shops) ≥ min_block_density`` and it has ``min_block_buyers``;
    its edges are removed and the component peeled again. Peeling drops the ring's lighter
    members (a node whose degree is below the block's average leaves first), so a buyer joins
    an accepted block when its orders at the block's shops reach ``expand_share`` × the block's
    orders per buyer. Column weight
    ``1 / log(shop_degree + log_offset)`` with ``shop_degree`` the shop's distinct buyers, so a
    popular shop's loyal customers do not look like a ring.
    """
    keep = pair_orders >= config.min_pair_orders
    ps, pb, po = pair_shop[keep], pair_buyer[keep], pair_orders[keep].astype(np.float64)
    if len(ps) == 0:
        return []
    shops, s_idx = np.unique(ps, return_inverse=True)
    buyers, b_idx = np.unique(pb, return_inverse=True)
    n_b, n_s = len(buyers), len(shops)
    weights = 1.0 / np.log(np.asarray(shop_degree, dtype=np.float64)[shops] + config.log_offset)
    graph = sparse.csr_matrix(
        (np.ones(len(ps)), (b_idx, s_idx + n_b)), shape=(n_b + n_s, n_b + n_s)
    )
    n_comp, label = connected_components(graph, directed=False)
    comp_of_edge = label[b_idx]
    order = np.argsort(comp_of_edge, kind="stable")
    bounds = np.searchsorted(comp_of_edge[order], np.arange(n_comp + 1))
    blocks: list[Block] = []
    for c in range(n_comp):
        edges = order[bounds[c] : bounds[c + 1]]
        if len(np.unique(b_idx[edges])) < config.min_block_buyers:
            continue
        while len(edges) and len(blocks) < config.max_blocks:
            rb, r_idx = np.unique(b_idx[edges], return_inverse=True)
            cs, c_idx = np.unique(s_idx[edges], return_inverse=True)
            row_in, col_in, _ = fraudar_peel(r_idx, c_idx, po[edges], len(rb), len(cs), weights[cs])
            inside = row_in[r_idx] & col_in[c_idx]
            n_buyers, n_shops = int(row_in.sum()), int(col_in.sum())
            orders = float(po[edges][inside].sum())
            density = orders / (n_buyers + n_shops)
            if n_buyers < config.min_block_buyers or density < config.min_block_density:
                break
            at_block = np.bincount(r_idx, po[edges] * col_in[c_idx], minlength=len(rb))
            row_in |= at_block >= config.expand_share * orders / n_buyers
            inside = row_in[r_idx] & col_in[c_idx]
            orders = float(po[edges][inside].sum())
            blocks.append(
                Block(
                    len(blocks),
                    shops[cs[col_in]],
                    buyers[rb[row_in]],
                    int(orders),
                    density,
                )
            )
            edges = edges[~inside]
    return blocks


# -- both, over an order table -----------------------------------------------------------------


@dataclass(frozen=True)
class BrushingReport:
    """Flagged orders (``mdl_brushing_orders`` rows), the rule's periods and the dense blocks."""

    flagged: pd.DataFrame
    windows: pd.DataFrame
    blocks: list[Block]


@register("brushing")
def detect_brushing(orders: pd.DataFrame, config: BrushingConfig) -> BrushingReport:
    """Run the concentration rule and the dense-block detector over ``orders`` and combine them.

    ``orders`` has the columns of :func:`brushing_input`. An order is flagged when either method
    flags it; ``method`` says which (``rule``, ``fraudar`` or ``rule+fraudar``).
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
    block_of = np.full(len(t), -1, dtype=np.int64)
    blocks: list[Block] = []
    fc = config.fraudar
    if fc.enabled and len(t):
        # Columns of the graph: (shop, time bucket); one bucket for the whole period when 0.
        bucket = t // fc.bucket_seconds if fc.bucket_seconds else np.zeros_like(t)
        bucket = bucket - bucket.min()
        n_bucket = int(bucket.max()) + 1
        col = shop * n_bucket + bucket
        n_buyers = int(buyer.max()) + 1
        if int(col.max()) + 1 > np.iinfo(np.int64).max // n_buyers:
            raise OverflowError("too many shop-days × buyers for one pair key")
        # One sort gives the pairs and their counts; their values, not codes, go to the
        # detector, so its node order does not depend on row order.
        pairs, pair_inv, pair_n = np.unique(
            col * n_buyers + buyer, return_inverse=True, return_counts=True
        )
        pair_inv = pair_inv.ravel()
        pair_col, pair_buyer = pairs // n_buyers, pairs % n_buyers
        col_degree = np.bincount(pair_col)
        found = dense_blocks(pair_col, pair_buyer, pair_n, col_degree, fc)
        pair_block = np.full(len(pairs), -1, dtype=np.int64)
        for blk in found:
            keys = (blk.shops[:, None] * n_buyers + blk.buyers[None, :]).ravel()
            pos = np.minimum(np.searchsorted(pairs, keys), len(pairs) - 1)
            pos = pos[pairs[pos] == keys]
            pair_block[pos] = np.where(pair_block[pos] < 0, blk.block_id, pair_block[pos])
            blocks.append(
                Block(
                    blk.block_id,
                    np.unique(blk.shops // n_bucket),
                    blk.buyers,
                    blk.orders,
                    blk.density,
                )
            )
        block_of = pair_block[pair_inv]
    by_fraudar = block_of >= 0
    any_flag = rule.flagged | by_fraudar
    method = np.where(
        rule.flagged & by_fraudar,
        METHOD_BOTH,
        np.where(rule.flagged, METHOD_RULE, METHOD_FRAUDAR),
    )
    sel = np.flatnonzero(any_flag)

    def _ts(v: np.ndarray) -> pd.Series:
        out = pd.Series(v.astype("datetime64[s]")).astype("datetime64[us]")
        return out.where(v != NO_TIME)

    flagged = pd.DataFrame(
        {
            "order_id": orders["order_id"].to_numpy()[sel],
            "brand_id": brand_col[sel],
            "buyer_id": buyer_col[sel],
            "paid_at": pd.to_datetime(orders["paid_at"].to_numpy()[sel]).astype("datetime64[us]"),
            "method": method[sel],
            "window_start": _ts(rule.window_start[sel]).to_numpy(),
            "window_end": _ts(rule.window_end[sel]).to_numpy(),
            "window_orders": rule.window_orders[sel],
            "window_buyers": rule.window_buyers[sel],
            "block_id": block_of[sel],
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
        for b in blocks
    ]
    return BrushingReport(flagged, windows, named_blocks)


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
        METHOD_FRAUDAR: flagged["method"].isin([METHOD_FRAUDAR, METHOD_BOTH]),
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
