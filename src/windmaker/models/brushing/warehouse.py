"""Brushing detection aggregated in the warehouse: every pass over all orders is an Ibis
expression (aggregations, window functions, joins), and only small frames come back to Python.

The report is the same as :func:`~windmaker.models.brushing.detect.detect_brushing` over the
whole order stream; what runs where:

* **rule** (:mod:`.rule`): the engine finds the anchors (``k = ⌈min_ratio⌉`` orders of one
  shop-buyer pair within the hour: ``lag(t, k−1)`` over the pair's orders), merges the
  stretches ``[x − H, y + H]`` around them per shop (gaps and islands with a running maximum)
  and returns the orders inside them (a range join); :func:`concentration_rule` runs on those
  only, which gives the same periods as on all orders (see :func:`.rule._segments`).
* **rings** (:mod:`.rings`): the engine builds the buyer × (shop, window) incidences with their
  degree (a window aggregate), prunes them to windows that can link buyers (a few rounds of
  :func:`.rings.prune`'s step), pairs the buyers of each window (a self-join) and counts the
  windows each pair shares (a grouped count): only the windows of the pairs that share enough
  of them come back (:func:`shared_windows`). :func:`.rings.find_rings` then asks the engine,
  for those pairs' buyer-shop pairs (sent back as a memtable and semi-joined), for all their
  incidences and their shops' incidences per slot of the day. No query's result is kept in a
  temporary table for the next: inside the main job's transaction DuckDB holds such a table
  in memory whole.
* **evidence**: the flagged orders' rows come back by a join on the flagged (shop, buyer, time)
  and (shop, buyer, window) keys; the first order time of each flagged buyer and each flagged
  shop's amount quantile and median are grouped aggregates over all orders.

Ids are hashed by the engine (:func:`.stream.id_key`) and codes follow the hashes, so the
result depends neither on row order nor on which engine ordered the rows; on Spark the hash is
32-bit Murmur3, where DuckDB's is 64-bit (kept to 63), so codes (and ring numbers) differ
between the engines while the flags do not.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from windmaker.models.brushing.config import NO_TIME, BlockConfig, BrushingConfig
from windmaker.models.brushing.detect import (
    BrushingReport,
    EvidenceContext,
    Flags,
    assemble,
    corroborating,
    detect_brushing,
    named_windows,
)
from windmaker.models.brushing.rings import (
    Block,
    Incidences,
    SharedWindows,
    SlotCounts,
    distinct_codes,
    find_rings,
)
from windmaker.models.brushing.rule import concentration_rule, period_frame
from windmaker.models.brushing.state import (
    BUCKET_DAYS,
    DAY_COLUMNS,
    NEAR_COLUMNS,
    PERIOD_COLUMNS,
    RULE_COLUMNS,
    SHARED_COLUMNS,
    SLOT_COLUMNS,
    DetectionState,
    Execute,
    Keep,
    Prior,
    WindowsFrom,
    empty_frame,
    int_frame,
    near_lookup,
    no_state,
)
from windmaker.models.brushing.stream import brushing_input, with_keys

#: Receives what the rings' search keeps (``shared``, ``days``, ``slots``, ``near``).
_KeepRings = Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame], None]

#: Rounds of the ring pruning step run before the buyers of each window are paired (fewer pairs).
SQL_PRUNE_ROUNDS = 2


# -- the rule ----------------------------------------------------------------------------------


def rule_candidates(stream: ibis.Table, window_seconds: int, min_ratio: float) -> ibis.Table:
    """The orders (shop, buyer, t) inside the stretches of their shop that can hold a brushing
    period: ``[x − H, y + H]`` around every run of ``k = ⌈min_ratio⌉`` orders of one shop-buyer
    pair within ``H``, merged per shop. ``stream`` has columns shop, buyer and t (seconds)."""
    h = window_seconds
    k = max(1, math.ceil(min_ratio - 1e-9))
    if k > 1:
        prev = stream.t.lag(k - 1).over(group_by=["shop", "buyer"], order_by="t")
        anchors = (
            stream.mutate(prev=prev)
            .filter(lambda s: s.prev.notnull() & (s.t - s.prev <= h))
            .select("shop", lo=lambda s: s.prev - h, hi=lambda s: s.t + h)
        )
    else:
        anchors = stream.select("shop", lo=lambda s: s.t - h, hi=lambda s: s.t + h)
    # distinct, so (lo, hi) orders each shop's anchors totally and both windows below agree
    anchors = anchors.distinct()
    before = ibis.window(group_by="shop", order_by=["lo", "hi"], rows=(None, -1))
    anchors = anchors.mutate(reach=anchors.hi.max().over(before))
    anchors = anchors.mutate(
        new=(anchors.reach.isnull() | (anchors.lo > anchors.reach)).cast("int64")
    )
    upto = ibis.window(group_by="shop", order_by=["lo", "hi"], rows=(None, 0))
    anchors = anchors.mutate(seg=anchors.new.sum().over(upto))
    segments = anchors.group_by(["shop", "seg"]).agg(lo=anchors.lo.min(), hi=anchors.hi.max())
    segments = segments.rename(seg_shop="shop")
    inside = stream.join(
        segments,
        [
            stream.shop == segments.seg_shop,
            stream.t >= segments.lo,
            stream.t <= segments.hi,
        ],
    )
    return inside.select(stream.shop, stream.buyer, stream.t)


def _rule(
    positions: Callable[[int | None], ibis.Table],
    config: BrushingConfig,
    execute: Execute,
    prior: Prior | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rule's flagged (shop, buyer, second) groups with their earliest period
    (:data:`RULE_COLUMNS`), and its periods, a row per suspicious buyer
    (:data:`PERIOD_COLUMNS`); every id a hash.

    Given ``prior``, only the orders from two rule windows before its first changed window are
    read: the periods that start one window before it or later are found again
    (:func:`.rule.concentration_rule`'s ``since``), the earlier ones and their flags are the
    stored ones, and an order of both keeps its earlier period."""
    h = config.window_seconds
    cut = None if prior is None else prior.since * config.blocks.window_seconds - h
    stream = positions(None if cut is None else cut - h)
    sub = execute(rule_candidates(stream, h, config.min_ratio))
    shop_keys, shop = distinct_codes(sub["shop"].to_numpy(dtype=np.int64))
    buyer_keys, buyer = distinct_codes(sub["buyer"].to_numpy(dtype=np.int64))
    t = sub["t"].to_numpy(dtype=np.int64)
    rule = concentration_rule(
        shop, buyer, t, window_seconds=h, min_ratio=config.min_ratio, since=cut
    )
    hit = rule.flagged
    flags = pd.DataFrame(
        {
            "shop": shop_keys[shop[hit]],
            "buyer": buyer_keys[buyer[hit]],
            "t": t[hit],
            "start": rule.window_start[hit],
            "end": rule.window_end[hit],
            "orders": rule.window_orders[hit],
            "buyers": rule.window_buyers[hit],
        }
    )
    flags = flags.drop_duplicates(["shop", "buyer", "t"]).astype(np.int64)
    periods = rule.windows.explode("suspicious")
    periods = periods.assign(
        shop=shop_keys[periods["shop"].to_numpy(dtype=np.int64)],
        suspicious=buyer_keys[periods["suspicious"].to_numpy(dtype=np.int64)],
    )[list(PERIOD_COLUMNS)].astype(np.int64)
    if prior is not None:
        old = prior.state.flags[prior.state.flags["start"] < cut][list(RULE_COLUMNS)]
        key = ["shop", "buyer", "t"]
        again = pd.MultiIndex.from_frame(flags[key]).isin(pd.MultiIndex.from_frame(old[key]))
        flags = pd.concat([old, flags[~again]], ignore_index=True)
        before = prior.state.periods[prior.state.periods["first"] < cut]
        periods = pd.concat([before[list(PERIOD_COLUMNS)], periods], ignore_index=True)
    return flags.astype(np.int64), periods.astype(np.int64)


def _windows(periods: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """:attr:`.rule.RuleResult.windows` of the periods (:data:`PERIOD_COLUMNS`), in the rule's
    order (shop, first order, last order), with the hash of each shop and buyer code."""
    shop_keys, shop = distinct_codes(periods["shop"].to_numpy(dtype=np.int64))
    buyer_keys, buyer = distinct_codes(periods["suspicious"].to_numpy(dtype=np.int64))
    coded = periods.assign(shop=shop, suspicious=buyer)
    key = ["shop", "first", "last", "orders", "buyers"]
    grouped = coded.sort_values([*key, "suspicious"]).groupby(key, sort=True)["suspicious"]
    rows = [(*k, tuple(v.tolist())) for k, v in grouped]
    return period_frame(rows), shop_keys, buyer_keys


# -- the rings ---------------------------------------------------------------------------------


def _kept(t: ibis.Table, keys: ibis.Table, on: str | list[str]) -> ibis.Table:
    """The rows of ``t`` whose ``on`` columns are among ``keys``'s. The filter makes Ibis
    compile the result as a query of its own that later steps read; a bare semi-join is inlined
    into the next one, so each pruning round computed the rounds before it again (64 s on 21M
    orders)."""
    return t.semi_join(keys, on).filter(ibis.literal(True))


def _linking(windows: ibis.Table, config: BlockConfig) -> ibis.Table:
    """The incidences (shop, window, buyer) of ``windows`` (shop, buyer, window) whose window
    can link buyers (:func:`_can_link`), its buyers counted by a group-by."""
    inc = windows.select("shop", "window", "buyer").distinct()
    linkable = inc.group_by(["shop", "window"]).agg(degree=inc.count())
    return _kept(inc, linkable.filter(_can_link(linkable.degree, config)), ["shop", "window"])


def ring_candidates(windows: ibis.Table, config: BlockConfig) -> ibis.Table:
    """The incidences (shop, window, buyer) of ``windows`` (shop, buyer, window) that survive
    the first rounds of :func:`.rings.prune`: a superset of those that can link buyers.

    Counted by group-bys and semi-joins rather than window functions, which sort every
    partition: on 21M orders the candidates took 8.9 s this way and 11.6 s with a window
    function per count, for the same 12.2M incidences."""
    cand = _linking(windows, config)
    for _ in range(SQL_PRUNE_ROUNDS):
        per_buyer = cand.group_by("buyer").agg(n=cand.count())
        cand = _kept(cand, per_buyer.filter(per_buyer.n >= config.min_shared_windows), "buyer")
        per_col = cand.group_by(["shop", "window"]).agg(n=cand.count())
        cand = _kept(cand, per_col.filter(per_col.n >= 2), ["shop", "window"])
    return cand


def _can_link(degree: ir.IntegerValue, config: BlockConfig) -> ir.BooleanValue:
    """A window of ``degree`` buyers can link two of them: 2 to ``max_window_buyers``."""
    return (degree >= 2) & (degree <= config.max_window_buyers)


def _sides(cand: ibis.Table) -> tuple[ibis.Table, ibis.Table]:
    """The two sides of the self-join that pairs the buyers of each window."""
    x = cand.select("shop", "window", a="buyer")
    y = cand.select(y_shop="shop", y_window="window", b="buyer")
    return x, y


def shared_windows(cand: ibis.Table, config: BlockConfig) -> ibis.Table:
    """:class:`.rings.SharedWindows` of the candidates (shop, window, buyer) as an expression:
    the pairs of buyers sharing ``min_shared_windows`` windows or more are counted by the
    engine (a self-join on the window and a grouped count, which spill to disk), and only their
    shared windows come back: on 21M orders 401,783 rows, where the candidates are 12M
    incidences and their pairs 45M."""
    x, y = _sides(cand)
    pairs = _pair_rows(cand)
    often = (
        pairs.group_by(["a", "b"])
        .agg(n=pairs.count())
        .filter(lambda p: p.n >= config.min_shared_windows)
        .select("a", "b")
    )
    mine = often.join(x, "a")
    back = mine.join(y, [mine.b == y.b, mine.shop == y.y_shop, mine.window == y.y_window])
    return back.select(mine.shop, mine.window, mine.a, mine.b)


def _pair_rows(cand: ibis.Table) -> ibis.Table:
    """Every window of the candidates (shop, window, buyer) with each pair of its buyers."""
    x, y = _sides(cand)
    pairs = x.join(y, [x.shop == y.y_shop, x.window == y.y_window, x.a < y.b])
    return pairs.select("shop", "window", "a", "b")


def recent_shared_windows(windows: ibis.Table, since: int, config: BlockConfig) -> ibis.Table:
    """Every window numbered ``since`` or later that can link buyers, once per pair of its
    buyers, however few windows the pair shares: a window is whole from its number on, so these
    rows are exact, and a pair that shares one of them may share older ones."""
    recent = windows.filter(windows.window >= since)
    return _pair_rows(_linking(recent, config))


def older_shared_windows(
    windows: ibis.Table, since: int, pairs: ibis.Table, config: BlockConfig
) -> ibis.Table:
    """The windows numbered before ``since`` that can link buyers and that the ``pairs`` (a, b)
    share. The pairs' buyers' windows are paired first, and only the windows some pair shares
    are counted whole (their buyers), so the second pass over the orders looks up few windows.
    """
    old = windows.filter(windows.window < since)
    buyers = pairs.select(buyer=pairs.a).union(pairs.select(buyer=pairs.b))
    mine = old.semi_join(buyers, "buyer").select("shop", "window", "buyer").distinct()
    met = _pair_rows(mine).semi_join(pairs, ["a", "b"])
    around = old.semi_join(met.select("shop", "window").distinct(), ["shop", "window"])
    around = around.select("shop", "window", "buyer").distinct()
    degree = around.group_by(["shop", "window"]).agg(degree=around.count())
    linking = degree.filter(_can_link(degree.degree, config))
    return met.semi_join(linking, ["shop", "window"])


def shop_traffic(windows: ibis.Table, config: BlockConfig, since_day: int | None) -> ibis.Table:
    """Each shop's incidences per day and per (bucket, slot of the day), from day ``since_day``
    on (every day when ``None``), in one query that groups the orders once: rows (shop, day,
    bucket, slot, n), a day's rows with bucket and slot −1, a slot's with day −1."""
    w = config.window_seconds
    slots = -(-86_400 // w)
    src = windows
    if since_day is not None:
        src = src.filter((src.window * w) // 86_400 >= since_day)
    inc = src.select("shop", "window", "buyer").distinct()
    inc = inc.mutate(day=(inc.window * w) // 86_400, slot=inc.window % slots)
    none = ibis.literal(-1, "int64")
    days = inc.group_by(["shop", "day"]).agg(n=inc.count())
    days = days.select("shop", day=days.day.cast("int64"), bucket=none, slot=none, n=days.n)
    per_slot = inc.group_by(["shop", (inc.day // BUCKET_DAYS).name("bucket"), "slot"]).agg(
        n=inc.count()
    )
    per_slot = per_slot.select(
        "shop",
        day=none,
        bucket=per_slot.bucket.cast("int64"),
        slot=per_slot.slot.cast("int64"),
        n=per_slot.n,
    )
    return days.union(per_slot, distinct=False)


def _traffic(
    windows: WindowsFrom, config: BlockConfig, execute: Execute, prior: Prior | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(days, slots) of :class:`DetectionState`: counted from every window, or, given ``prior``, the
    stored rows before the bucket of ``prior.since``'s day and those from it on counted."""
    start = None
    if prior is not None:
        since_day = prior.since * config.window_seconds // 86_400
        start = since_day // BUCKET_DAYS * BUCKET_DAYS
    first = None if start is None else -(-start * 86_400 // config.window_seconds)
    got = execute(shop_traffic(windows(first), config, start)).astype(np.int64)
    is_day = got["day"].to_numpy() >= 0
    days = got.loc[is_day, list(DAY_COLUMNS)]
    slots = got.loc[~is_day, list(SLOT_COLUMNS)]
    if prior is not None and start is not None:
        old_days, old_slots = prior.state.days, prior.state.slots
        days = pd.concat([old_days[old_days["day"] < start][list(DAY_COLUMNS)], days])
        kept = old_slots[old_slots["bucket"] < start // BUCKET_DAYS][list(SLOT_COLUMNS)]
        slots = pd.concat([kept, slots])
    return days.reset_index(drop=True), slots.reset_index(drop=True)


def _shared(
    windows: WindowsFrom, config: BlockConfig, execute: Execute, prior: Prior | None
) -> pd.DataFrame:
    """:func:`shared_windows`' rows, from all the windows or, given ``prior``, from the windows
    numbered ``prior.since`` and later with the stored rows before them.

    A pair shares ``C = C_old + C_new`` windows (before and from ``since``). A pair that shares
    ``min_shared_windows`` now and none of the recent windows shared as many before, so its old
    windows are stored; a pair that shares a recent window and is not stored shared fewer, and
    its old windows are asked for. Any other pair shares fewer than ``min_shared_windows``.
    """
    if prior is None:
        return execute(shared_windows(ring_candidates(windows(None), config), config))
    cols = list(SHARED_COLUMNS)
    stored = prior.state.shared[cols].astype(np.int64)
    recent = recent_shared_windows(windows(prior.since), prior.since, config)
    recent = execute(recent)[cols].astype(np.int64)
    parts = [stored[stored["window"] < prior.since], recent]
    known = pd.MultiIndex.from_frame(stored[["a", "b"]])
    fresh = recent[["a", "b"]].drop_duplicates()
    fresh = fresh[~pd.MultiIndex.from_frame(fresh).isin(known)]
    if len(fresh):
        asked = older_shared_windows(
            windows(None), prior.since, int_frame(a=fresh["a"], b=fresh["b"]), config
        )
        parts.append(execute(asked)[cols].astype(np.int64))
    rows = pd.concat(parts, ignore_index=True)
    n = rows.groupby(["a", "b"])["window"].transform("size")
    return rows[n >= config.min_shared_windows].reset_index(drop=True)


def _incidences(frame: pd.DataFrame) -> Incidences:
    """A frame of incidences with their codes (``shop_code``, ``buyer_code``), in the engine's
    order: :func:`.rings.find_rings` sorts what its lookup returns."""
    return Incidences(
        shop=frame["shop_code"].to_numpy(dtype=np.int64),
        window=frame["window"].to_numpy(dtype=np.int64),
        buyer=frame["buyer_code"].to_numpy(dtype=np.int64),
        degree=frame["degree"].to_numpy(dtype=np.int64),
        day_windows=frame["day_windows"].to_numpy(dtype=np.int64),
        orders=frame["orders"].to_numpy(dtype=np.int64),
    )


def _rings(
    windows: WindowsFrom,
    config: BlockConfig,
    execute: Execute,
    prior: Prior | None,
    keep: _KeepRings,
) -> tuple[pd.DataFrame, list[Block], np.ndarray, np.ndarray]:
    """The flagged incidences (shop, buyer, window hashes; block_id, ring_shops), the rings
    with codes, and the hash of each shop and buyer code."""
    empty = pd.DataFrame(
        {c: np.zeros(0, np.int64) for c in ("shop", "buyer", "window", "block_id", "ring_shops")}
    )
    none = np.zeros(0, np.int64)
    if not config.enabled:
        keep(
            *(
                empty_frame(cols)
                for cols in (SHARED_COLUMNS, DAY_COLUMNS, SLOT_COLUMNS, NEAR_COLUMNS)
            )
        )
        return empty, [], none, none
    # Nothing is cached between the queries: a temporary table made inside the main job's
    # transaction is held in memory whole (21M orders: out of memory at 3 GB), where each query
    # alone stays within the engine's memory limit and spills what it cannot hold.
    frame = _shared(windows, config, execute, prior)
    days, slot_rows = _traffic(windows, config, execute, prior)
    if frame.empty:
        keep(frame, days, slot_rows, empty_frame(NEAR_COLUMNS))
        return empty, [], none, none
    # dense codes in hash order: a pair's two buyers coded together
    shop_keys, shop_code = distinct_codes(frame["shop"].to_numpy(dtype=np.int64))
    ab = np.r_[frame["a"].to_numpy(dtype=np.int64), frame["b"].to_numpy(dtype=np.int64)]
    buyer_keys, ab_code = distinct_codes(ab)
    shared = SharedWindows(
        shop=shop_code,
        window=frame["window"].to_numpy(dtype=np.int64),
        a=ab_code[: len(frame)],
        b=ab_code[len(frame) :],
    )
    w = config.window_seconds
    day_windows = days.rename(columns={"n": "day_windows"})
    looked_up: list[pd.DataFrame] = []

    def around(shops: np.ndarray, buyers: np.ndarray) -> tuple[Incidences, SlotCounts]:
        """The buyer-shop pairs' incidences with their windows' buyers
        (:func:`.state.near_lookup`). The shops' counts per day and per slot come from
        :func:`shop_traffic`'s."""
        need = buyers * len(shop_keys) + shops
        near = near_lookup(windows, shop_keys, buyer_keys, need, execute, prior)
        looked_up.append(near[list(NEAR_COLUMNS)])
        found = near.assign(day=near["window"] * w // 86_400)
        # every incidence's day is among the counted ones (a miss fails the cast loudly)
        found = found.merge(day_windows, on=["shop", "day"], how="left")
        found["day_windows"] = found["day_windows"].astype(np.int64)
        mine_shops = slot_rows[slot_rows["shop"].isin(shop_keys[np.unique(shops)])]
        per = mine_shops.groupby(["shop", "slot"], as_index=False)["n"].sum()
        slot_counts = (
            np.searchsorted(shop_keys, per["shop"].to_numpy(dtype=np.int64)),
            per["slot"].to_numpy(dtype=np.int64),
            per["n"].to_numpy(dtype=np.int64),
        )
        return _incidences(found), slot_counts

    core = find_rings(shared, len(shop_keys), len(buyer_keys), around, config)
    keep(frame, days, slot_rows, looked_up[0] if looked_up else empty_frame(NEAR_COLUMNS))
    f = core.flagged
    flagged = pd.DataFrame(
        {
            "shop": shop_keys[f.shop],
            "buyer": buyer_keys[f.buyer],
            "window": f.window,
            "block_id": core.ring,
            "ring_shops": core.shops_of_buyer[f.buyer],
        }
    )
    return flagged, core.blocks, shop_keys, buyer_keys


# -- both --------------------------------------------------------------------------------------


def _ids(keys: np.ndarray, rows: pd.DataFrame, key: str, column: str) -> np.ndarray:
    """The id of each hash in ``keys`` among the flagged rows (``None`` when none has it)."""
    known = dict(zip(rows[key].tolist(), rows[column].tolist(), strict=True))
    return np.array([known.get(k) for k in keys.tolist()], dtype=object)


def detect_in_warehouse(
    orders: ibis.Table,
    reviews: ibis.Table | None,
    config: BrushingConfig,
    execute: Execute,
    *,
    prior: Prior | None = None,
    keep: Keep | None = None,
    keys: ibis.Table | None = None,
) -> BrushingReport:
    """Brushing detection over the warehouse's ``orders`` (and ``reviews``), aggregated by the
    engine that ``execute`` runs: the report of ``detect_brushing(execute(brushing_input(orders,
    reviews)), config)``, with the review rows ordered by shop hash, time and order id.

    Python receives the rule's candidate orders, the windows shared by pairs of buyers who
    meet often and the lookups around them, the flagged orders and per flagged buyer and shop
    aggregates: memory grows with the suspicious part of the market, not with the order table.

    ``keep`` receives what the rule found and the rings' search counted
    (:class:`DetectionState`); given it back as ``prior`` after orders were appended, the next
    detection runs the rule over the recent hours only, pairs the buyers of the recent windows
    only (the largest query of a full one), recounts the shops' traffic from the recent days'
    bucket on, and gives the same report.

    ``keys``: the orders' :func:`.stream.order_keys`, stored (a row for each order of
    ``orders``). The passes that read only the shop, buyer and second of each order (the rule,
    the windows, the buyers' first orders) scan it, where they would read the ids and hash them.
    """
    keep = keep or (lambda _frame: None)
    source = brushing_input(orders, reviews)
    # The passes read the orders without their reviews, looked up for the flagged orders only:
    # DuckDB looks up every order's review below a filter it cannot push under the lookup, even
    # when no column of it is read (21M orders: the recent windows' pairs took 2.4 s with it,
    # 0.5 s without).
    w = config.blocks.window_seconds

    def keyed_from(t0: int | None) -> ibis.Table:
        """The keyed orders paid at second ``t0`` or later (every order: ``None``). The filter
        is on the payment time itself, below the ids' hashing: the engine skips the older
        blocks of the table by their time range, where a filter on a computed second read and
        hashed every order first (21M orders, the last day: 0.5 s a query, and Ibis does not
        merge a filter into a projection that calls an engine function, :func:`.stream.id_key`).
        ``floor(seconds) ≥ t0`` is ``paid_at ≥ t0`` for a whole ``t0``."""
        if t0 is None:
            return with_keys(brushing_input(orders))
        at = ibis.literal(pd.Timestamp(t0, unit="s").to_pydatetime(), type="timestamp")
        return with_keys(brushing_input(orders.filter(orders.paid_at >= at)))

    def positions_from(t0: int | None) -> ibis.Table:
        """(shop, buyer, t) of the orders paid at second ``t0`` or later (``None``: all)."""
        if keys is None:
            return keyed_from(t0).select("shop", "buyer", "t")
        return keys if t0 is None else keys.filter(keys.t >= t0)

    def windows_from(first: int | None) -> ibis.Table:
        part = positions_from(None if first is None else first * w)
        return part.select("shop", "buyer", window=part.t // w)

    keyed = keyed_from(None)
    every = positions_from(None)
    stats = execute(every.aggregate(n=every.count(), t_min=every.t.min()))
    if int(stats["n"].iloc[0]) == 0:
        keep(no_state())
        return detect_brushing(execute(source.limit(0)), config)
    last_paid = execute(orders.aggregate(last=orders.paid_at.max()))["last"].iloc[0]
    flags, periods = _rule(positions_from, config, execute, prior)

    def keep_rings(
        shared: pd.DataFrame, days: pd.DataFrame, slots: pd.DataFrame, near: pd.DataFrame
    ) -> None:
        keep(DetectionState(shared, days, slots, flags, periods, near))

    ring_inc, blocks, ring_shops, ring_buyers = _rings(
        windows_from, config.blocks, execute, prior, keep_rings
    )

    # the flagged orders' rows: the rule flags whole (shop, buyer, second) groups
    rule_keys = flags.rename(columns={c: f"r_{c}" for c in RULE_COLUMNS})
    block_keys = ring_inc.rename(
        columns={
            "shop": "b_shop",
            "buyer": "b_buyer",
            "window": "b_window",
            "block_id": "b_block",
            "ring_shops": "b_shops",
        }
    ).astype(np.int64)
    rule_mt = ibis.memtable(rule_keys)
    block_mt = ibis.memtable(block_keys)
    joined = (
        keyed.mutate(window=keyed.t // w)
        .left_join(
            rule_mt,
            [
                keyed.shop == rule_mt.r_shop,
                keyed.buyer == rule_mt.r_buyer,
                keyed.t == rule_mt.r_t,
            ],
        )
        .left_join(
            block_mt,
            [
                keyed.shop == block_mt.b_shop,
                keyed.buyer == block_mt.b_buyer,
                (keyed.t // w) == block_mt.b_window,
            ],
        )
    )
    flagged = joined.filter(joined.r_t.notnull() | joined.b_block.notnull())
    if reviews is not None:  # looked up for the flagged orders only
        flagged = flagged.mutate(reviewed=flagged.order_id.isin(reviews.order_id))
    rows = execute(flagged.drop("r_shop", "r_buyer", "b_shop", "b_buyer", "b_window"))
    rows = rows.sort_values(["shop", "t", "order_id"], kind="stable").reset_index(drop=True)
    is_rule = rows["r_t"].notna().to_numpy()
    is_block = rows["b_block"].notna().to_numpy()

    def _int(column: str, fill: int) -> np.ndarray:
        return rows[column].fillna(fill).to_numpy(dtype=np.int64)

    flags = Flags(
        rule=is_rule,
        window_start=np.where(is_rule, _int("r_start", NO_TIME), NO_TIME),
        window_end=np.where(is_rule, _int("r_end", NO_TIME), NO_TIME),
        window_orders=_int("r_orders", 0),
        window_buyers=_int("r_buyers", 0),
        block_of=np.where(is_block, _int("b_block", -1), -1),
        ring_shops=_int("b_shops", 0),
    )

    # the evidence: aggregates over all orders, for the flagged buyers and shops only
    buyers = rows["buyer"].to_numpy(dtype=np.int64)
    shops = rows["shop"].to_numpy(dtype=np.int64)
    seen = every.semi_join(int_frame(buyer=np.unique(buyers)), "buyer")
    seen = execute(seen.group_by("buyer").agg(first=seen.t.min()))
    first_seen = seen.set_index("buyer")["first"].reindex(buyers).to_numpy(dtype=np.int64)
    quantile = config.evidence.low_value_quantile
    by_shop = keyed.semi_join(int_frame(shop=np.unique(shops)), "shop")
    # DuckDB compiles quantile to quantile_cont and Spark to percentile: both exact and
    # linearly interpolated, as pandas' default
    cut = execute(
        by_shop.group_by("shop").agg(
            cut=by_shop.amount.quantile(quantile), mid=by_shop.amount.median()
        )
    ).set_index("shop")
    context = EvidenceContext(
        first_seen=first_seen,
        data_start=int(stats["t_min"].iloc[0]),
        low_cut=cut["cut"].reindex(shops).to_numpy(dtype=np.float64),
        low_mid=cut["mid"].reindex(shops).to_numpy(dtype=np.float64),
        last_paid=pd.Timestamp(last_paid),
    )
    evidence = corroborating(
        rows, rows["t"].to_numpy(dtype=np.int64), buyers, context, config.evidence
    )

    # names: every shop and buyer of a period or a ring has flagged orders
    rule_windows, rule_shops, rule_buyers = _windows(periods)
    windows_named = named_windows(
        rule_windows,
        _ids(rule_shops, rows, "shop", "brand_id"),
        _ids(rule_buyers, rows, "buyer", "buyer_id"),
    )
    shop_ids = _ids(ring_shops, rows, "shop", "brand_id")
    buyer_ids = _ids(ring_buyers, rows, "buyer", "buyer_id")
    named_blocks = [
        Block(b.block_id, shop_ids[b.shops], buyer_ids[b.buyers], b.orders, b.density)
        for b in blocks
    ]
    return assemble(rows, flags, evidence, windows_named, named_blocks, config)
