"""Trust: brushing detection with its evidence, trust scores, alerts and violations, stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa

from windmaker import contract
from windmaker.models import brushing, trust
from windmaker.models.brushing.warehouse import (
    DAY_COLUMNS,
    SHARED_COLUMNS,
    SLOT_COLUMNS,
    Prior,
    RingState,
)
from windmaker.results import (
    BRUSHING_DAYS,
    BRUSHING_ORDERS,
    BRUSHING_REVIEW,
    BRUSHING_SHARED,
    BRUSHING_SLOTS,
    BRUSHING_STATE,
    BRUSHING_WINDOWS,
    TRUST_ALERTS,
    TRUST_SCORES,
    TRUST_VIOLATIONS,
)
from windmaker.warehouse import Warehouse

_FLAGGED_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("brand_id", pa.string()),
        ("buyer_id", pa.string()),
        ("paid_at", pa.timestamp("us")),
        ("method", pa.string()),
        ("window_start", pa.timestamp("us")),
        ("window_end", pa.timestamp("us")),
        ("window_orders", pa.int64()),
        ("window_buyers", pa.int64()),
        ("block_id", pa.int64()),
        ("signals", pa.string()),
        ("n_signals", pa.int64()),
        ("confidence", pa.string()),
    ]
)
_WINDOW_SCHEMA = pa.schema(
    [
        ("brand_id", pa.string()),
        ("first", pa.timestamp("us")),
        ("last", pa.timestamp("us")),
        ("orders", pa.int64()),
        ("buyers", pa.int64()),
        ("suspicious_buyers", pa.string()),
    ]
)
#: What the rings' search keeps (:class:`RingState`): each table and its columns, all int64.
_RING_TABLES = (
    (BRUSHING_SHARED, SHARED_COLUMNS),
    (BRUSHING_DAYS, DAY_COLUMNS),
    (BRUSHING_SLOTS, SLOT_COLUMNS),
)
_STATE_SCHEMA = pa.schema(
    [("key", pa.string()), ("rows", pa.int64()), ("max_time", pa.timestamp("us"))]
)
_ALERT_SCHEMA = pa.schema(
    [
        ("brand_id", pa.string()),
        ("account_id", pa.string()),
        ("period", pa.date32()),
        ("kind", pa.string()),
        ("severe", pa.bool_()),
        ("score", pa.float64()),
        ("threshold", pa.float64()),
        ("reason_code", pa.string()),
        ("reason_params", pa.string()),
    ]
)
_VIOLATION_SCHEMA = pa.schema(
    [
        ("brand_id", pa.string()),
        ("period", pa.date32()),
        ("violations", pa.int64()),
        ("severe_violations", pa.int64()),
    ]
)


def _arrow(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """``df`` with exactly ``schema``'s columns and types (an empty frame keeps its types)."""
    return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)


def _ring_key(wh: Warehouse, config: brushing.BlockConfig) -> str:
    """What the stored shared windows depend on besides the orders: the ring settings, and the
    engine whose hashes name the shops and buyers."""
    version = ""
    if wh.engine == "duckdb":
        import duckdb

        version = duckdb.__version__
    return json.dumps(
        {"engine": wh.engine, "version": version, "blocks": config.model_dump(mode="json")},
        sort_keys=True,
    )


def _seconds(at: datetime) -> int:
    """Whole seconds since the epoch of a naive time, floored as the engine floors them."""
    return int(pd.Timestamp(at).floor("s").value // 1_000_000_000)


def brushing_plan(
    wh: Warehouse, config: brushing.BrushingConfig, *, full: bool = False
) -> tuple[Prior | None, str]:
    """The stored shared windows to start from, and why (``None``: pair the buyers of every
    window). They serve when the last detection ran with the same ring settings and the orders
    have only been appended since: every order added is paid after the latest order it saw, so
    the windows before the first added order hold what they held."""
    if full:
        return None, "a full run was asked for"
    if not all(wh.has_table(t) for t in (BRUSHING_STATE, *(t for t, _ in _RING_TABLES))):
        return None, "no stored ring counts"
    state = wh.execute(wh.table(BRUSHING_STATE))
    if len(state) != 1 or state["key"].iloc[0] != _ring_key(wh, config.blocks):
        return None, "ring settings changed"
    rows, mark = int(state["rows"].iloc[0]), state["max_time"].iloc[0]
    orders = wh.table(contract.ORDERS.name)
    now = wh.execute(orders.aggregate(rows=orders.count(), last=orders.paid_at.max()))
    n, last = int(now["rows"].iloc[0]), now["last"].iloc[0]
    w = config.blocks.window_seconds
    if pd.isna(mark) or n < rows:
        return None, "orders were removed"
    if n == rows:
        if last != mark:
            return None, "orders changed in place"
        return Prior(_ring_state(wh), _seconds(mark) // w + 1), "no new orders"
    newer = orders.filter(orders.paid_at > ibis.timestamp(pd.Timestamp(mark).to_pydatetime()))
    got = wh.execute(newer.aggregate(n=newer.count(), first=newer.paid_at.min()))
    if int(got["n"].iloc[0]) != n - rows:
        return None, "orders changed before the last detection"
    return Prior(_ring_state(wh), _seconds(got["first"].iloc[0]) // w), "new orders"


def _ring_state(wh: Warehouse) -> RingState:
    frames = [wh.execute(wh.table(t).select(*cols)).astype("int64") for t, cols in _RING_TABLES]
    return RingState(*frames)


@dataclass(frozen=True)
class BrushingRun:
    """A stored detection: its report, ``mode`` (``incremental``: only the recent windows'
    buyers were paired; ``full``) and why."""

    report: brushing.BrushingReport
    mode: str
    reason: str


def run_brushing(wh: Warehouse, config: trust.TrustConfig, *, full: bool = False) -> BrushingRun:
    """Detect brushing over the warehouse's orders and store the flags: high-confidence ones in
    ``mdl_brushing_orders`` (left out of GMV), all of them with their signals in
    ``mdl_brushing_review``, and the rule's periods. The engine aggregates; only the suspicious
    part of the orders comes back (:func:`windmaker.models.brushing.detect_in_warehouse`).

    What the rings' search counted is stored with the orders' count and latest payment (the
    windows that pairs of buyers who meet often share, the shops' incidences per day and per
    slot of the day: ``_mdl_brushing_shared``, ``_days``, ``_slots``, ``_state``). After new
    orders the next detection pairs only the buyers of the windows from the first new order on
    and recounts only the shops' recent traffic (:func:`brushing_plan`), and finds what a full
    one finds. ``full`` counts everything again.
    """
    has_reviews = wh.has_table(contract.REVIEWS.name)
    reviews = wh.table(contract.REVIEWS.name) if has_reviews else None
    orders = wh.table(contract.ORDERS.name)
    mark = wh.execute(orders.aggregate(rows=orders.count(), max_time=orders.paid_at.max()))
    prior, reason = brushing_plan(wh, config.brushing, full=full)
    kept: list[RingState] = []
    report = brushing.detect_in_warehouse(
        orders, reviews, config.brushing, wh.execute, prior=prior, keep=kept.append
    )
    with wh.atomic():
        wh.write(BRUSHING_ORDERS, _arrow(report.flagged, _FLAGGED_SCHEMA))
        wh.write(BRUSHING_REVIEW, _arrow(report.review, _FLAGGED_SCHEMA))
        wh.write(BRUSHING_WINDOWS, _arrow(report.windows, _WINDOW_SCHEMA))
        for (name, cols), frame in zip(
            _RING_TABLES, (kept[0].shared, kept[0].days, kept[0].slots), strict=True
        ):
            schema = pa.schema([(c, pa.int64()) for c in cols])
            wh.write(name, _arrow(frame, schema))
        state = mark.assign(key=_ring_key(wh, config.brushing.blocks))
        wh.write(BRUSHING_STATE, _arrow(state, _STATE_SCHEMA))
    return BrushingRun(report, "full" if prior is None else "incremental", reason)


def market_figures(folder: Path, config: trust.TrustConfig | None = None) -> dict[str, object]:
    """Detect brushing in a simulated market folder and return the figures it is held to
    (:func:`windmaker.models.brushing.bar_figures`: flagged share, largest brand share,
    precision and recall per planted ring kind), plus the review count and the seconds taken.
    """
    import time

    config = config or trust.load_config()
    orders = pd.read_parquet(folder / "orders.parquet")
    reviewed = pd.read_parquet(folder / "reviews.parquet", columns=["order_id"])["order_id"]
    orders["reviewed"] = orders["order_id"].isin(set(reviewed))
    for col in ("amount", "refund_amount"):
        orders[col] = orders[col].astype("float64")
    ring_file = folder / "truth" / "brushing_rings.parquet"
    rings = pd.read_parquet(ring_file) if ring_file.exists() else None
    clock = time.perf_counter()
    report = brushing.detect_brushing(orders, config.brushing)
    seconds = time.perf_counter() - clock
    out: dict[str, object] = dict(
        brushing.bar_figures(report.flagged, orders.groupby("brand_id").size(), rings)
    )
    out["review_orders"] = int((report.review["confidence"] != brushing.CONFIDENCE_HIGH).sum())
    out["seconds"] = round(seconds, 2)
    return out


def score_entities(wh: Warehouse, config: trust.TrustConfig) -> pd.DataFrame:
    """The trust scores of every brand and account × month: the counts aggregated in the
    warehouse in one pass for both entities (per brand × account × month), rolled up to each
    and scored from those small frames."""
    flagged = wh.table(BRUSHING_ORDERS) if wh.has_table(BRUSHING_ORDERS) else None
    pairs = wh.execute(
        trust.trust_counts_by_pair(
            wh.table(contract.ORDERS.name),
            wh.table(contract.REVIEWS.name),
            flagged=flagged,
            complaint_types=config.score.complaint_types,
        )
    )
    frames = []
    for entity, owners in (("brand", contract.BRANDS.name), ("account", contract.ACCOUNTS.name)):
        key = "brand_id" if entity == "brand" else "account_id"
        own = wh.execute(wh.table(owners).select(key, "category"))
        counts = trust.roll_up(pairs, own, entity=entity)  # type: ignore[arg-type]
        frames.append(trust.trust_scores(counts, config.score, entity=entity))  # type: ignore[arg-type]
    return pd.concat(frames, ignore_index=True)


def run_scores(wh: Warehouse, config: trust.TrustConfig) -> pd.DataFrame:
    """Score every brand and account, raise the alerts and count violations; store all three."""
    scores = score_entities(wh, config)
    table = pa.Table.from_pandas(scores, preserve_index=False)
    period = table.schema.get_field_index("period")
    table = table.set_column(
        period, "period", pa.array(pd.to_datetime(scores["period"]).dt.date, pa.date32())
    )
    wh.write(TRUST_SCORES, table)
    accounts = wh.execute(wh.table(contract.ACCOUNTS.name).select("account_id", "brand_id"))
    alerts = trust.trust_alerts(scores, accounts, config)
    wh.write(TRUST_ALERTS, _arrow(alerts, _ALERT_SCHEMA))
    wh.write(TRUST_VIOLATIONS, _arrow(trust.brand_violations(alerts), _VIOLATION_SCHEMA))
    return scores
