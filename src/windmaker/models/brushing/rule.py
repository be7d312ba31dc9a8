"""The concentration rule: brushing periods of a shop (orders / distinct buyers ≥ ``min_ratio``
within one hour) and their suspicious buyers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from windmaker.models.brushing.config import NO_TIME


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


def concentration_rule(
    shop: np.ndarray,
    buyer: np.ndarray,
    t: np.ndarray,
    *,
    window_seconds: int,
    min_ratio: float,
    since: int | None = None,
) -> RuleResult:
    """Apply the concentration rule to orders given as shop codes, buyer codes and seconds.

    A shop's window ``[s, s + window_seconds]`` is a brushing period when
    ``orders ≥ min_ratio × distinct buyers``; its suspicious buyers are those with the most of
    its orders (ties: all). Exact over every window, overlapping ones and ties included; only the
    stretches that can hold a period are swept (see :func:`_segments`).

    ``since``: only the periods whose first order is at that second or later. Given the orders
    from ``since − window_seconds`` on, those are exactly the periods the whole stream has from
    ``since`` on: their orders are all there, and an order missing before them is more than
    ``window_seconds`` from their next one, as every order before ``since − window_seconds`` is.
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
            if since is not None and seg_t[a] < since:
                continue
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
    return RuleResult(flagged, w_start, w_end, w_orders, w_buyers, period_frame(rows))


def period_frame(rows: list[tuple[int, int, int, int, int, tuple[int, ...]]]) -> pd.DataFrame:
    """:attr:`RuleResult.windows` of rows (shop, first, last, orders, buyers, suspicious)."""
    return pd.DataFrame(
        rows, columns=["shop", "first", "last", "orders", "buyers", "suspicious"]
    ).astype({"shop": "int64", "first": "int64", "last": "int64"})
