"""Brushing detection aggregated in the warehouse (``detect_in_warehouse``) gives exactly the
in-memory detector's report (``detect_brushing`` over the whole order stream), hands Python a
small part of the orders, and flags the same orders with the same evidence on Spark."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.models.market import Market, planted_market
from windmaker.config import load_yaml_model
from windmaker.models.brushing import (
    BrushingConfig,
    BrushingReport,
    brushing_input,
    detect_brushing,
    detect_in_warehouse,
)
from windmaker.models.trust import TrustConfig
from windmaker.warehouse import Warehouse


@pytest.fixture(scope="module")
def config() -> BrushingConfig:
    return load_yaml_model(TrustConfig, "trust.yaml").brushing


def _duckdb(orders: pd.DataFrame, reviews: pd.DataFrame | None = None) -> Any:
    con = ibis.duckdb.connect()
    con.create_table("orders", orders)
    if reviews is not None:
        con.create_table("reviews", reviews)
    return con


def _both(
    con: Any, config: BrushingConfig, execute: Callable[[Any], Any] | None = None
) -> tuple[BrushingReport, BrushingReport]:
    orders = con.table("orders")
    reviews = con.table("reviews") if "reviews" in con.list_tables() else None
    want = detect_brushing(con.execute(brushing_input(orders, reviews)), config)
    got = detect_in_warehouse(orders, reviews, config, execute or con.execute)
    return want, got


def _by_order(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("order_id").reset_index(drop=True)


def assert_same_report(want: BrushingReport, got: BrushingReport) -> None:
    """The same review rows (every column, ring ids included), the same high-confidence rows,
    the same periods in the same order and the same rings (shops, buyers, orders, density)."""
    pd.testing.assert_frame_equal(_by_order(got.review), _by_order(want.review))
    pd.testing.assert_frame_equal(_by_order(got.flagged), _by_order(want.flagged))
    pd.testing.assert_frame_equal(got.windows, want.windows)
    assert len(got.blocks) == len(want.blocks)
    for g, w in zip(got.blocks, want.blocks, strict=True):
        assert g.block_id == w.block_id
        assert g.shops.tolist() == w.shops.tolist()
        assert g.buyers.tolist() == w.buyers.tolist()
        assert g.orders == w.orders
        assert g.density == w.density


@pytest.fixture(scope="module")
def markets() -> list[Market]:
    return [planted_market(seed=s) for s in (7, 8, 9)]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_planted_markets_match(markets: list[Market], config: BrushingConfig, index: int) -> None:
    m = markets[index]
    want, got = _both(_duckdb(m.orders, m.reviews), config)
    assert len(want.flagged) > 0 and len(want.blocks) > 0 and len(want.windows) > 0
    assert_same_report(want, got)


def test_rule_candidates_are_the_stretches_the_rule_sweeps(
    markets: list[Market], config: BrushingConfig
) -> None:
    """The engine's merged stretches hold exactly the orders the in-memory rule sweeps (its
    ``_segments``): no order the rule needs is missing and none is added."""
    from windmaker.models.brushing import encode, seconds
    from windmaker.models.brushing.rule import _segments
    from windmaker.models.brushing.warehouse import rule_candidates

    con = _duckdb(markets[0].orders)
    source = brushing_input(con.table("orders"))
    stream = source.select(
        shop=source.brand_id_key,
        buyer=source.buyer_id_key,
        t=source.paid_at.epoch_seconds().cast("float64").floor().cast("int64"),
    )
    got = con.execute(rule_candidates(stream, config.window_seconds, config.min_ratio))
    df = con.execute(source)
    shop, _ = encode(df, "brand_id")
    buyer, _ = encode(df, "buyer_id")
    segments = _segments(
        shop, buyer, seconds(df["paid_at"]), config.window_seconds, config.min_ratio
    )
    rows = np.concatenate(segments)
    want = df.iloc[rows][["brand_id_key", "buyer_id_key"]].assign(t=seconds(df["paid_at"])[rows])
    want.columns = ["shop", "buyer", "t"]
    assert 0 < len(got) < len(df) / 10
    key = ["shop", "buyer", "t"]
    pd.testing.assert_frame_equal(
        got.sort_values(key).reset_index(drop=True)[key].astype("int64"),
        want.sort_values(key).reset_index(drop=True).astype("int64"),
    )


def test_other_settings_match(markets: list[Market], config: BrushingConfig) -> None:
    """A lower ratio (runs of two orders make the anchors), two-hour ring windows and every
    corroborating signal counted, no_review included."""
    evidence = config.evidence.model_copy(
        update={"corroborating": ("fresh_account", "low_value", "unfulfilled", "no_review")}
    )
    blocks = config.blocks.model_copy(update={"window_seconds": 7200})
    other = config.model_copy(update={"min_ratio": 2.0, "blocks": blocks, "evidence": evidence})
    m = markets[0]
    want, got = _both(_duckdb(m.orders, m.reviews), other)
    assert want.review["signals"].str.contains("no_review").any()
    assert len(want.windows) > len(_both(_duckdb(m.orders), config)[0].windows)
    assert_same_report(want, got)


def test_linked_pairs_without_a_ring(markets: list[Market], config: BrushingConfig) -> None:
    """Pairs linked beyond chance that form no group of ``min_ring_buyers``: no ring, in both
    detectors, and the rule's flags stand alone."""
    blocks = config.blocks.model_copy(update={"min_ring_buyers": 10_000})
    few = config.model_copy(update={"blocks": blocks})
    m = markets[0]
    want, got = _both(_duckdb(m.orders, m.reviews), few)
    assert want.blocks == [] and len(want.review) > 0
    assert (want.review["block_id"] < 0).all()
    assert_same_report(want, got)


def test_row_order_does_not_matter(markets: list[Market], config: BrushingConfig) -> None:
    """The engine's report is the same, row for row, whatever order the orders are stored in."""
    m = markets[1]
    _, got = _both(_duckdb(m.orders), config)
    shuffled = m.orders.sample(frac=1.0, random_state=3).reset_index(drop=True)
    _, again = _both(_duckdb(shuffled), config)
    pd.testing.assert_frame_equal(again.review, got.review)
    pd.testing.assert_frame_equal(again.windows, got.windows)


def _simulated(folder: Path) -> Any:
    con = ibis.duckdb.connect()
    for name in ("orders", "reviews"):
        con.create_table(name, pq.read_table(folder / f"{name}.parquet"))
    return con


def test_simulated_market_matches(small_simulated_market: Path, config: BrushingConfig) -> None:
    want, got = _both(_simulated(small_simulated_market), config)
    assert len(want.flagged) > 0
    assert_same_report(want, got)


def test_python_receives_a_small_part(small_simulated_market: Path, config: BrushingConfig) -> None:
    """Counted at the ``execute`` boundary: on a market where few orders brush, the rows handed
    to Python (every frame, candidates and lookups included) are fewer than half the orders,
    and no single frame comes near the order table."""
    con = _simulated(small_simulated_market)
    n_orders = int(con.execute(con.table("orders").count()))
    received: list[int] = []

    def counting(expr: Any) -> Any:
        out = con.execute(expr)
        received.append(len(out))
        return out

    want, got = _both(con, config, counting)
    assert_same_report(want, got)
    assert len(want.review) < 0.01 * n_orders
    assert sum(received) < 0.5 * n_orders, (received, n_orders)
    assert max(received) < 0.35 * n_orders, (received, n_orders)


@pytest.fixture(scope="module")
def loyal_market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loyalty-heavy market of test_loyal_fans_are_not_rings (no rings; fans buying several
    times a month)."""
    from windmaker.simulator import MarketConfig, simulate

    folder = tmp_path_factory.mktemp("loyal_wh")
    simulate(MarketConfig(brands=300, months=3, seed=11, ring_kinds=(), loyalty=True), folder)
    return folder


def test_loyal_fans_match(loyal_market: Path, config: BrushingConfig) -> None:
    """The same few flags for review, none high."""
    want, got = _both(_simulated(loyal_market), config)
    assert len(want.review) > 0
    assert_same_report(want, got)


@pytest.mark.parametrize("min_shared", [2, 3])
def test_shared_windows_are_every_pair_that_meets_often(
    loyal_market: Path, config: BrushingConfig, min_shared: int
) -> None:
    """The pairs the engine counts before anything reaches Python are exactly those a brute
    force count over every incidence finds: each pair of buyers sharing ``min_shared`` windows
    of 2 to ``max_window_buyers`` buyers, with every window they share, and the engine's pruning
    before the count drops none of them. Loyal fans meet in their shops' busy hours, so pairs
    that meet once are many times more numerous."""
    from windmaker.models.brushing.stream import order_keys
    from windmaker.models.brushing.warehouse import ring_candidates, shared_windows

    blocks = config.blocks.model_copy(update={"min_shared_windows": min_shared})
    con = _simulated(loyal_market)
    keys = order_keys(con.table("orders"))
    windows = keys.select("shop", "buyer", window=keys.t // blocks.window_seconds)
    got = con.execute(shared_windows(ring_candidates(windows, blocks), blocks)).astype("int64")

    inc = con.execute(windows.distinct()).astype("int64")
    degree = inc.groupby(["shop", "window"])["buyer"].transform("size")
    inc = inc[(degree >= 2) & (degree <= blocks.max_window_buyers)]
    pairs = inc.merge(inc, on=["shop", "window"])
    pairs = pairs[pairs["buyer_x"] < pairs["buyer_y"]]
    shared = pairs.groupby(["buyer_x", "buyer_y"])["shop"].transform("size")
    want = pairs[shared >= min_shared]

    def rows(shop: Any, window: Any, a: Any, b: Any) -> list[tuple[int, ...]]:
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        return sorted(zip(shop.tolist(), window.tolist(), lo.tolist(), hi.tolist(), strict=True))

    assert len(want) > 0 and len(pairs) > 5 * len(want)
    assert rows(got["shop"], got["window"], got["a"], got["b"]) == rows(
        want["shop"], want["window"], want["buyer_x"], want["buyer_y"]
    )


def _sorted_shared(frame: pd.DataFrame) -> pd.DataFrame:
    cols = ["shop", "window", "a", "b"]
    return frame[cols].astype("int64").sort_values(cols).reset_index(drop=True)


def assert_same_state(got: Any, want: Any) -> None:
    """The same shared windows, the same traffic per shop-day and per shop-bucket-slot, the
    same rule flags and periods, and the same incidences around the linked pairs."""
    pd.testing.assert_frame_equal(_sorted_shared(got.shared), _sorted_shared(want.shared))
    for part in ("days", "slots", "flags", "periods", "near"):
        g, w = getattr(got, part), getattr(want, part)
        key = [c for c in w.columns if c != "n"]
        pd.testing.assert_frame_equal(
            g.sort_values(key).reset_index(drop=True), w.sort_values(key).reset_index(drop=True)
        )


def _first_and_all(
    orders: pd.DataFrame,
    reviews: pd.DataFrame,
    share: float,
    config: BrushingConfig,
    cut: pd.Timestamp | None = None,
) -> tuple[Any, Any]:
    """The detection over the orders paid up to ``share`` of the market's time span (or up to
    ``cut``), then over all of them, given what the first one kept: (the prior, the full
    detection's report and what it kept, the incremental one's)."""
    from windmaker.models.brushing import seconds
    from windmaker.models.brushing.state import Prior

    lo, hi = orders["paid_at"].min(), orders["paid_at"].max()
    cut = lo + (hi - lo) * share if cut is None else cut
    first = _duckdb(orders[orders["paid_at"] <= cut], reviews)
    kept: list[Any] = []
    detect_in_warehouse(first.table("orders"), None, config, first.execute, keep=kept.append)
    con = _duckdb(orders, reviews)
    w = config.blocks.window_seconds
    since = int(seconds(orders.loc[orders["paid_at"] > cut, "paid_at"]).min()) // w
    prior = Prior(kept[0], since)
    whole: list[Any] = []
    want = detect_in_warehouse(
        con.table("orders"), con.table("reviews"), config, con.execute, keep=whole.append
    )
    again: list[Any] = []
    got = detect_in_warehouse(
        con.table("orders"),
        con.table("reviews"),
        config,
        con.execute,
        prior=prior,
        keep=again.append,
    )
    return prior, (want, whole[0]), (got, again[0])


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("share", [0.3, 0.6, 0.97])
def test_new_orders_pair_only_the_recent_windows(
    markets: list[Market], config: BrushingConfig, index: int, share: float
) -> None:
    """The reference is the full detection over all the orders, not planted truth. Given the
    shared windows of a detection over the orders up to a moment (mid-window: the window it
    falls in holds orders from both sides), a detection after the rest of the orders arrived
    pairs only the windows from that one on, and finds the same shared windows and the same
    report, flag for flag, as the full detection. Some pairs reach the number of shared windows
    that links them only with the new orders, so their older windows had to be asked for."""
    m = markets[index]
    prior, (want, whole), (got, again) = _first_and_all(m.orders, m.reviews, share, config)
    assert_same_report(want, got)
    assert len(want.blocks) > 0
    assert_same_state(again, whole)
    shared = whole.shared
    pairs = shared.groupby(["a", "b"])["window"]
    straddle = (pairs.transform("min") < prior.since) & (pairs.transform("max") >= prior.since)
    before = set(zip(prior.state.shared["a"], prior.state.shared["b"], strict=True))
    ab = list(zip(shared["a"], shared["b"], strict=True))
    joined = {p for p in ab if p not in before}
    late = {p for p, s in zip(ab, straddle, strict=True) if s}
    if share < 0.9:
        assert joined & late, "no pair linked across the cut: the test would prove nothing"


def test_new_orders_inside_a_rule_period(markets: list[Market], config: BrushingConfig) -> None:
    """The reference is the full detection. The cut falls at the top of an hour inside one of
    the rule's periods that started in the hour before: the first detection saw only its
    beginning, and the incremental one reads the rule's orders from an hour before the first
    new window on, so it finds the whole period again, and keeps the earlier periods. (The
    planted bursts start at the top of an hour; moved by 40 minutes, some cross one.)"""
    m = markets[0]
    orders = m.orders.assign(paid_at=m.orders["paid_at"] + pd.Timedelta(minutes=40))
    con = _duckdb(orders)
    periods = detect_in_warehouse(con.table("orders"), None, config, con.execute).windows
    top = periods["last"].dt.floor("h")
    crossing = periods[(top > periods["first"]) & (periods["last"] > top)]
    assert len(crossing) > 0, "no period crosses the top of an hour: the test would prove nothing"
    cut = top[crossing.index[0]] - pd.Timedelta(microseconds=1)
    prior, (want, whole), (got, again) = _first_and_all(orders, m.reviews, 0, config, cut)
    assert prior.since * config.blocks.window_seconds == cut.ceil("h").timestamp()
    assert (whole.periods["first"] < prior.since * config.blocks.window_seconds - 3_600).any()
    assert_same_state(again, whole)
    assert_same_report(want, got)


def test_new_orders_on_the_loyal_market(loyal_market: Path, config: BrushingConfig) -> None:
    """On the loyal fans' market (many pairs that meet once or twice) the same: the last week
    added to a detection of the weeks before gives the full detection's shared windows."""
    con = _simulated(loyal_market)
    orders = con.execute(con.table("orders"))
    reviews = con.execute(con.table("reviews"))
    span = (orders["paid_at"].max() - orders["paid_at"].min()).total_seconds()
    share = 1 - 7 * 86_400 / span
    prior, (want, whole), (got, again) = _first_and_all(orders, reviews, share, config)
    old = prior.state.shared
    assert len(whole.shared) > len(old[old["window"] < prior.since]) > 0
    assert_same_state(again, whole)
    assert_same_report(want, got)


def test_no_orders(markets: list[Market], config: BrushingConfig) -> None:
    want, got = _both(_duckdb(markets[0].orders.iloc[:0]), config)
    assert got.review.empty and got.windows.empty and got.blocks == []
    assert_same_report(want, got)


def test_run_brushing_stores_the_warehouse_report(
    markets: list[Market], config: BrushingConfig, tmp_path: Path
) -> None:
    """The service runs the warehouse path and stores its flags as before."""
    from windmaker.models.trust import load_config
    from windmaker.results import BRUSHING_REVIEW, BRUSHING_WINDOWS
    from windmaker.services.trust import run_brushing

    m = markets[2]
    with Warehouse(f"duckdb://{tmp_path}/wh.duckdb") as wh:
        wh.backend.create_table("orders", m.orders)
        wh.backend.create_table("reviews", m.reviews)
        run_brushing(wh, load_config())
        stored = wh.execute(wh.table(BRUSHING_REVIEW))
        windows = wh.execute(wh.table(BRUSHING_WINDOWS))
        want = detect_brushing(
            wh.execute(brushing_input(wh.table("orders"), wh.table("reviews"))), config
        )
    assert set(stored["order_id"]) == set(want.review["order_id"])
    merged = stored.merge(want.review, on="order_id", suffixes=("", "_want"))
    assert (merged["signals"] == merged["signals_want"]).all()
    assert (merged["confidence"] == merged["confidence_want"]).all()
    assert len(windows) == len(want.windows)


def test_run_brushing_after_new_orders(
    markets: list[Market], config: BrushingConfig, tmp_path: Path
) -> None:
    """The service keeps the shared windows; after orders paid later are appended, the next
    detection is incremental and stores what a full one stores, table for table."""
    from windmaker.models.trust import load_config
    from windmaker.results import (
        BRUSHING_DAYS,
        BRUSHING_NEAR,
        BRUSHING_PERIODS,
        BRUSHING_REVIEW,
        BRUSHING_RULE,
        BRUSHING_SHARED,
        BRUSHING_SLOTS,
        BRUSHING_WINDOWS,
    )
    from windmaker.services.trust import run_brushing

    m = markets[2]
    cut = m.orders["paid_at"].quantile(0.7)
    old, new = m.orders[m.orders["paid_at"] <= cut], m.orders[m.orders["paid_at"] > cut]
    trust_config = load_config()

    def stored(wh: Warehouse) -> list[pd.DataFrame]:
        return [
            wh.execute(wh.table(BRUSHING_REVIEW)).sort_values("order_id").reset_index(drop=True),
            wh.execute(wh.table(BRUSHING_WINDOWS)),
            _sorted_shared(wh.execute(wh.table(BRUSHING_SHARED))),
            *(
                wh.execute(wh.table(t)).sort_values(k).reset_index(drop=True)
                for t, k in (
                    (BRUSHING_DAYS, ["shop", "day"]),
                    (BRUSHING_SLOTS, ["shop", "bucket", "slot"]),
                    (BRUSHING_RULE, ["shop", "buyer", "t"]),
                    (BRUSHING_PERIODS, ["shop", "first", "last", "suspicious"]),
                    (BRUSHING_NEAR, ["shop", "window", "buyer"]),
                )
            ),
        ]

    with Warehouse(f"duckdb://{tmp_path}/wh.duckdb") as wh:
        wh.backend.create_table("orders", old)
        wh.backend.create_table("reviews", m.reviews)
        first = run_brushing(wh, trust_config)
        assert (first.mode, first.reason) == ("full", "no stored detection")
        wh.backend.insert("orders", new)
        again = run_brushing(wh, trust_config)
        assert (again.mode, again.reason) == ("incremental", "new orders")
        got = stored(wh)
        full = run_brushing(wh, trust_config, full=True)
        assert full.mode == "full"
        want = stored(wh)
        same = run_brushing(wh, trust_config)
        assert (same.mode, same.reason) == ("incremental", "no new orders")
        assert len(got[0]) > 0 and len(got[2]) > 0
        for g, w in zip([*got, *stored(wh)], [*want, *want], strict=True):
            pd.testing.assert_frame_equal(g, w)


def test_run_brushing_keeps_a_key_row_for_every_order(
    markets: list[Market], tmp_path: Path
) -> None:
    """The stored keys (``_mdl_brushing_keys``) are a row per order, whatever happened since the
    last detection: orders appended (the new ones' rows added), no new orders (nothing added),
    and a run that stopped after adding its rows without storing its detection (made again)."""
    from windmaker.models.brushing import order_keys
    from windmaker.models.trust import load_config
    from windmaker.results import BRUSHING_KEYS
    from windmaker.services.trust import run_brushing

    m = markets[2]
    cut = m.orders["paid_at"].quantile(0.7)
    old, new = m.orders[m.orders["paid_at"] <= cut], m.orders[m.orders["paid_at"] > cut]
    trust_config = load_config()

    def rows(wh: Warehouse, expr: ibis.Table) -> pd.DataFrame:
        got = wh.execute(expr).astype("int64")
        return got.sort_values(["shop", "buyer", "t"]).reset_index(drop=True)

    def check(wh: Warehouse, mode: str) -> None:
        assert run_brushing(wh, trust_config).mode == mode
        want = rows(wh, order_keys(wh.table("orders")))
        pd.testing.assert_frame_equal(rows(wh, wh.table(BRUSHING_KEYS)), want)

    with Warehouse(f"duckdb://{tmp_path}/wh.duckdb") as wh:
        wh.backend.create_table("orders", old)
        wh.backend.create_table("reviews", m.reviews)
        check(wh, "full")
        wh.backend.insert("orders", new)
        check(wh, "incremental")
        check(wh, "incremental")  # no new orders
        # a run that stopped between adding the keys and storing its detection
        wh.duckdb.execute(f"INSERT INTO {BRUSHING_KEYS} SELECT * FROM {BRUSHING_KEYS} LIMIT 7")
        check(wh, "incremental")
        assert wh.execute(wh.table(BRUSHING_KEYS).count()) == len(m.orders)


def test_run_brushing_pairs_every_window_when_it_must(
    markets: list[Market], config: BrushingConfig, tmp_path: Path
) -> None:
    """Rows added before the latest order the last detection saw, rows changed in place, or
    other rule or ring settings: the stored detection no longer holds, and every window is
    paired."""
    from windmaker.models.trust import load_config
    from windmaker.services.trust import brushing_plan, run_brushing

    m = markets[1]
    trust_config = load_config()
    late = m.orders["paid_at"] > m.orders["paid_at"].quantile(0.9)
    with Warehouse(f"duckdb://{tmp_path}/wh.duckdb") as wh:
        wh.backend.create_table("orders", m.orders[~late])
        run_brushing(wh, trust_config)
        assert brushing_plan(wh, config)[1] == "no new orders"
        blocks = config.blocks.model_copy(update={"max_window_buyers": 9})
        other = config.model_copy(update={"blocks": blocks})
        assert brushing_plan(wh, other) == (None, "detection settings changed")
        stricter = config.model_copy(update={"min_ratio": config.min_ratio + 1})
        assert brushing_plan(wh, stricter) == (None, "detection settings changed")
        assert brushing_plan(wh, config, full=True) == (None, "a full run was asked for")
        early = m.orders[late].assign(paid_at=m.orders["paid_at"].min())
        wh.backend.insert("orders", early.iloc[:1])
        assert brushing_plan(wh, config) == (None, "orders changed before the last detection")
        wh.duckdb.execute("DELETE FROM orders WHERE order_id = ?", [str(early["order_id"].iloc[0])])
        assert brushing_plan(wh, config)[1] == "no new orders"
        wh.duckdb.execute(
            "UPDATE orders SET paid_at = paid_at + INTERVAL 1 SECOND WHERE paid_at = "
            "(SELECT max(paid_at) FROM orders)"
        )
        assert brushing_plan(wh, config) == (None, "orders changed in place")
        wh.duckdb.execute(
            "DELETE FROM orders WHERE order_id IN (SELECT order_id FROM orders LIMIT 1)"
        )
        assert brushing_plan(wh, config) == (None, "orders were removed")


# -- Spark ---------------------------------------------------------------------------------------


@pytest.mark.spark
@pytest.mark.parametrize("stored_keys", [False, True], ids=["hashed", "stored-keys"])
def test_spark_flags_match_duckdb(
    spark_wh: Warehouse, config: BrushingConfig, stored_keys: bool
) -> None:
    """On a local Spark session the same orders are flagged, with the same signals, methods,
    periods and confidence as on DuckDB (ring numbers may differ: Spark hashes ids to 32 bits),
    whether the passes hash the ids or read the stored keys."""
    from windmaker.models.brushing import order_keys

    m = planted_market(seed=7, n_brands=16, burst_rings=3, spread_rings=3)
    con = _duckdb(m.orders, m.reviews)
    want = detect_in_warehouse(con.table("orders"), con.table("reviews"), config, con.execute)
    spark_wh.backend.create_table("orders", m.orders, overwrite=True)
    spark_wh.backend.create_table("reviews", m.reviews, overwrite=True)
    keys = None
    if stored_keys:
        spark_wh.write("order_keys", order_keys(spark_wh.table("orders")))
        keys = spark_wh.table("order_keys")
    got = detect_in_warehouse(
        spark_wh.table("orders"), spark_wh.table("reviews"), config, spark_wh.execute, keys=keys
    )
    assert len(want.flagged) > 0 and (want.review["block_id"] >= 0).any()
    columns = ["order_id", "method", "window_start", "window_end", "signals", "confidence"]
    a, b = _by_order(got.review)[columns], _by_order(want.review)[columns]
    pd.testing.assert_frame_equal(a, b)
    assert np.array_equal(
        _by_order(got.review)["block_id"] >= 0, _by_order(want.review)["block_id"] >= 0
    )
    key = ["brand_id", "first", "last"]
    got_w = got.windows.sort_values(key).reset_index(drop=True)
    want_w = want.windows.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got_w[[*key, "orders", "buyers"]], want_w[[*key, "orders", "buyers"]]
    )
    assert sorted(sorted(b.buyers.tolist()) for b in got.blocks) == sorted(
        sorted(b.buyers.tolist()) for b in want.blocks
    )
