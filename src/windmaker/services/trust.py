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
from windmaker.metrics import refresh as mx
from windmaker.models import brushing, trust
from windmaker.models.brushing.state import STATE_COLUMNS, DetectionState, Prior
from windmaker.models.brushing.stream import ID_KEYS
from windmaker.results import (
    BRUSHING_DAYS,
    BRUSHING_KEYS,
    BRUSHING_NEAR,
    BRUSHING_ORDERS,
    BRUSHING_PERIODS,
    BRUSHING_REVIEW,
    BRUSHING_RULE,
    BRUSHING_SHARED,
    BRUSHING_SLOTS,
    BRUSHING_STATE,
    BRUSHING_WINDOWS,
    TRUST_ALERTS,
    TRUST_COUNTS,
    TRUST_FLAGGED,
    TRUST_SCORES,
    TRUST_STATE,
    TRUST_VIOLATIONS,
)
from windmaker.services.result_tables import result_arrow
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
#: What a detection keeps (:class:`DetectionState`): the table of each frame.
_STATE_TABLES = {
    "shared": BRUSHING_SHARED,
    "days": BRUSHING_DAYS,
    "slots": BRUSHING_SLOTS,
    "flags": BRUSHING_RULE,
    "periods": BRUSHING_PERIODS,
    "near": BRUSHING_NEAR,
}
_STATE_SCHEMA = pa.schema(
    [("key", pa.string()), ("rows", pa.int64()), ("max_time", pa.timestamp("us"))]
)
_COUNT_STATE_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("rows", pa.int64()),
        ("max_time", pa.timestamp("us")),
        ("key", pa.string()),
    ]
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


def _detection_key(wh: Warehouse, config: brushing.BrushingConfig) -> str:
    """What the stored detection state depends on besides the orders: the rule's and the ring
    settings, and the engine and hash that name the shops and buyers."""
    version = ""
    if wh.engine == "duckdb":
        import duckdb

        version = duckdb.__version__
    settings = config.model_dump(mode="json", include={"window_seconds", "min_ratio", "blocks"})
    return json.dumps(
        {"engine": wh.engine, "version": version, "ids": ID_KEYS, "settings": settings},
        sort_keys=True,
    )


def _seconds(at: datetime) -> int:
    """Whole seconds since the epoch of a naive time, floored as the engine floors them."""
    return int(pd.Timestamp(at).floor("s").value // 1_000_000_000)


def _sources_now(wh: Warehouse, sources: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """Each source's row count and latest time (``source``, ``rows``, ``max_time``), in one
    query: what a plan compares with the stored state, and the state stored after the run."""
    parts = [
        wh.table(name).aggregate(
            source=ibis.literal(name),
            rows=wh.table(name).count(),
            max_time=wh.table(name)[col].max().cast("timestamp"),
        )
        for name, col in sources
    ]
    return wh.execute(parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0])


def _first_appended(
    wh: Warehouse, name: str, col: str, mark: object, grown: int
) -> datetime | None:
    """The earliest ``col`` among the rows of ``name`` later than ``mark``, when they are the
    ``grown`` rows added since (``None`` otherwise: rows changed at or before ``mark``)."""
    t = wh.table(name)
    newer = t.filter(t[col] > ibis.timestamp(pd.Timestamp(mark).to_pydatetime()))
    got = wh.execute(newer.aggregate(n=newer.count(), first=newer[col].min()))
    if int(got["n"].iloc[0]) != grown:
        return None
    return pd.Timestamp(got["first"].iloc[0]).to_pydatetime()


_ORDERS_PAID = ((contract.ORDERS.name, "paid_at"),)


def brushing_plan(
    wh: Warehouse,
    config: brushing.BrushingConfig,
    *,
    full: bool = False,
    now: pd.DataFrame | None = None,
) -> tuple[Prior | None, str]:
    """The stored detection to start from, and why (``None``: run the rule over every order and
    pair the buyers of every window). It serves when the last detection ran with the same rule
    and ring settings and the orders have only been appended since: every order added is paid
    after the latest order it saw, so the windows before the first added order hold what they
    held. ``now``: the orders' row count and latest payment (:func:`_sources_now`), when
    already read."""
    if full:
        return None, "a full run was asked for"
    if not all(wh.has_table(t) for t in (BRUSHING_STATE, *_STATE_TABLES.values())):
        return None, "no stored detection"
    state = wh.execute(wh.table(BRUSHING_STATE))
    if len(state) != 1 or state["key"].iloc[0] != _detection_key(wh, config):
        return None, "detection settings changed"
    rows, mark = int(state["rows"].iloc[0]), state["max_time"].iloc[0]
    now = _sources_now(wh, _ORDERS_PAID) if now is None else now
    n, last = int(now["rows"].iloc[0]), now["max_time"].iloc[0]
    w = config.blocks.window_seconds
    if pd.isna(mark):
        return None, "no orders at the last detection"
    if n < rows:
        return None, "orders were removed"
    if n == rows:
        if last != mark:
            return None, "orders changed in place"
        return Prior(_stored_state(wh), _seconds(mark) // w + 1), "no new orders"
    first = _first_appended(wh, contract.ORDERS.name, "paid_at", mark, n - rows)
    if first is None:
        return None, "orders changed before the last detection"
    return Prior(_stored_state(wh), _seconds(first) // w), "new orders"


def _stored_state(wh: Warehouse) -> DetectionState:
    # Through Arrow: whole-number columns convert as they are, where the engine's general
    # conversion to pandas checks every column's values (4.7M rows at 21M orders: 0.08 s
    # against 0.24–0.89 s).
    return DetectionState(
        *(
            wh.to_arrow(wh.table(_STATE_TABLES[part]).select(*cols)).to_pandas().astype("int64")
            for part, cols in STATE_COLUMNS
        )
    )


def _order_keys(wh: Warehouse, orders: ibis.Table, prior: Prior | None) -> ibis.Table | None:
    """The orders' :func:`~windmaker.models.brushing.order_keys`, stored in
    ``_mdl_brushing_keys`` and brought up to date for the detection to read.

    Given ``prior`` (the orders were only appended since the last detection) and stored rows
    as many as the orders it saw, the orders paid after the latest it saw are appended: those
    are the orders added since (:func:`brushing_plan`). Otherwise (a full run, or a run that
    stopped between the two) they are made again from every order, for the next detection, and
    this one hashes the ids itself (``None``): inside the main job's transaction the rows just
    made are the transaction's own, which DuckDB scans more slowly than it reads and hashes the
    orders (21M orders, a full detection: the pairing took 23.2 s reading them, 15.8 s without).
    """
    if prior is not None and wh.has_table(BRUSHING_KEYS):
        state = wh.execute(wh.table(BRUSHING_STATE))
        stored = wh.table(BRUSHING_KEYS)
        if int(wh.execute(stored.count())) == int(state["rows"].iloc[0]):
            mark = ibis.timestamp(pd.Timestamp(state["max_time"].iloc[0]).to_pydatetime())
            wh.insert(BRUSHING_KEYS, brushing.order_keys(orders.filter(orders.paid_at > mark)))
            return wh.table(BRUSHING_KEYS)
    wh.write(BRUSHING_KEYS, brushing.order_keys(orders))
    return None


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

    What the rule found and the rings' search counted is stored with the orders' count and
    latest payment (the rule's flags and periods, the windows that pairs of buyers who meet
    often share, the shops' incidences per day and per slot of the day: ``_mdl_brushing_rule``,
    ``_periods``, ``_shared``, ``_days``, ``_slots``, ``_state``). After new orders the next
    detection runs the rule over the last hours before the first new order and after it, pairs
    only the buyers of the windows from that order on and recounts only the shops' recent
    traffic (:func:`brushing_plan`), and finds what a full one finds. ``full`` counts
    everything again.
    """
    has_reviews = wh.has_table(contract.REVIEWS.name)
    reviews = wh.table(contract.REVIEWS.name) if has_reviews else None
    orders = wh.table(contract.ORDERS.name)
    mark = _sources_now(wh, _ORDERS_PAID)
    prior, reason = brushing_plan(wh, config.brushing, full=full, now=mark)
    kept: list[DetectionState] = []
    report = brushing.detect_in_warehouse(
        orders,
        reviews,
        config.brushing,
        wh.execute,
        prior=prior,
        keep=kept.append,
        keys=_order_keys(wh, orders, prior),
    )
    with wh.atomic():
        wh.write(BRUSHING_ORDERS, _arrow(report.flagged, _FLAGGED_SCHEMA))
        wh.write(BRUSHING_REVIEW, _arrow(report.review, _FLAGGED_SCHEMA))
        wh.write(BRUSHING_WINDOWS, _arrow(report.windows, _WINDOW_SCHEMA))
        for part, cols in STATE_COLUMNS:
            schema = pa.schema([(c, pa.int64()) for c in cols])
            wh.write(_STATE_TABLES[part], _arrow(getattr(kept[0], part), schema))
        state = mark.assign(key=_detection_key(wh, config.brushing))
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


def score_entities(
    wh: Warehouse, config: trust.TrustConfig, pairs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The trust scores of every brand and account × month: the counts aggregated in the
    warehouse in one pass for both entities (per brand × account × month), rolled up to each
    and scored from those small frames. ``pairs``: those counts, when already made."""
    if pairs is None:
        pairs = wh.execute(_pair_counts(wh, config, None))
    frames = []
    for entity, owners in (("brand", contract.BRANDS.name), ("account", contract.ACCOUNTS.name)):
        key = "brand_id" if entity == "brand" else "account_id"
        own = wh.execute(wh.table(owners).select(key, "category"))
        counts = trust.roll_up(pairs, own, entity=entity)  # type: ignore[arg-type]
        frames.append(trust.trust_scores(counts, config.score, entity=entity))  # type: ignore[arg-type]
    return pd.concat(frames, ignore_index=True)


def _flagged(wh: Warehouse) -> ibis.Table | None:
    return wh.table(BRUSHING_ORDERS) if wh.has_table(BRUSHING_ORDERS) else None


def _pair_counts(wh: Warehouse, config: trust.TrustConfig, since: datetime | None) -> ibis.Table:
    return trust.trust_counts_by_pair(
        wh.table(contract.ORDERS.name),
        wh.table(contract.REVIEWS.name),
        flagged=_flagged(wh),
        complaint_types=config.score.complaint_types,
        since=since,
    )


#: The sources the counts are made from, with the time each grows by.
_COUNTED = ((contract.ORDERS.name, "paid_at"), (contract.REVIEWS.name, "created_at"))


def counts_plan(
    wh: Warehouse,
    config: trust.TrustConfig,
    *,
    full: bool = False,
    now: pd.DataFrame | None = None,
) -> tuple[str, datetime | None, str]:
    """(mode, the first month to count again, why) for the stored counts per brand × account ×
    month. Mode ``full`` counts every month; ``incremental`` the months from the one returned;
    ``up_to_date`` none. A month's counts change when:

    - orders or reviews were added in it (the sources only appended since: every added row
      later than the latest one counted; otherwise every month is counted again);
    - an order of it joined or left the brushing flags;
    - one of its orders' promised shipping fell due between the two counts' last orders (an
      order still unshipped then became late), or it is the last count's last month or later
      (reviews count up to the last order's month).

    ``now``: the sources' row counts and latest times (:func:`_sources_now`), when already read.
    """
    if full:
        return "full", None, "a full run was asked for"
    if not all(wh.has_table(t) for t in (TRUST_STATE, TRUST_COUNTS, TRUST_FLAGGED)):
        return "full", None, "no stored counts"
    state = wh.execute(wh.table(TRUST_STATE)).set_index("source")
    if set(state["key"]) != {_counts_key(config)}:
        return "full", None, "complaint types changed"
    current = (_sources_now(wh, _COUNTED) if now is None else now).set_index("source")
    lows: list[datetime] = []
    for name, col in _COUNTED:
        if name not in state.index:
            return "full", None, f"{name} not tracked"
        rows, mark = int(state.loc[name, "rows"]), state.loc[name, "max_time"]
        n, last = int(current.loc[name, "rows"]), current.loc[name, "max_time"]
        if n == rows and (last == mark or (pd.isna(last) and pd.isna(mark))):
            continue
        if n <= rows or pd.isna(mark):
            return "full", None, f"{name} changed in place or removed"
        first = _first_appended(wh, name, col, mark, n - rows)
        if first is None:
            return "full", None, f"{name} changed before the last count"
        lows.append(first)
    orders = wh.table(contract.ORDERS.name)
    mark = state.loc[contract.ORDERS.name, "max_time"]
    after = current.loc[contract.ORDERS.name, "max_time"]
    # (no orders then and now: nothing fell due; orders since none: counted in full above)
    if not (pd.isna(mark) or pd.isna(after)):
        before, now = pd.Timestamp(mark).to_pydatetime(), pd.Timestamp(after).to_pydatetime()
        if now != before:
            lows.append(before)
            due = orders.filter(
                (orders.promised_ship_by >= ibis.timestamp(before))
                & (orders.promised_ship_by < ibis.timestamp(now))
            )
            first_due = wh.execute(due.paid_at.min())
            if first_due is not None and not pd.isna(first_due):
                lows.append(pd.Timestamp(first_due).to_pydatetime())
    change = wh.execute(
        mx.left_out_change_expression(wh.table(TRUST_FLAGGED), mx.left_out(orders, _flagged(wh)))
    )
    if int(change["n"].iloc[0]) > 0:
        lows.append(pd.Timestamp(change["lo"].iloc[0]).to_pydatetime())
    if not lows:
        return "up_to_date", None, "no new rows"
    first = min(lows)
    return "incremental", datetime(first.year, first.month, 1), "new rows"


def _counts_key(config: trust.TrustConfig) -> str:
    return json.dumps({"complaint_types": sorted(config.score.complaint_types)})


def stored_counts(wh: Warehouse, config: trust.TrustConfig, *, full: bool = False) -> pd.DataFrame:
    """The counts per brand × account × month (:func:`windmaker.models.trust.
    trust_counts_by_pair`), counted again from the first month that changed
    (:func:`counts_plan`), and stored with what they were counted from."""
    now = _sources_now(wh, _COUNTED)
    mode, since, _reason = counts_plan(wh, config, full=full, now=now)
    if mode == "up_to_date":
        return wh.execute(wh.table(TRUST_COUNTS))
    fresh = wh.execute(_pair_counts(wh, config, since))
    if mode == "incremental":
        stored = wh.execute(wh.table(TRUST_COUNTS))
        old = stored[pd.to_datetime(stored["period"]) < pd.Timestamp(since)]
        pairs = pd.concat([old, fresh[old.columns]], ignore_index=True)
    else:
        pairs = fresh
    state = now.assign(key=_counts_key(config))
    with wh.atomic():
        wh.write(TRUST_COUNTS, _counts_arrow(pairs))
        wh.write(TRUST_STATE, _arrow(state, _COUNT_STATE_SCHEMA))
        wh.write(TRUST_FLAGGED, mx.left_out(wh.table(contract.ORDERS.name), _flagged(wh)))
    return pairs


def _counts_arrow(pairs: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(pairs, preserve_index=False)
    at = table.schema.get_field_index("period")
    return table.set_column(
        at, "period", pa.array(pd.to_datetime(pairs["period"]).dt.date, pa.date32())
    )


def run_scores(wh: Warehouse, config: trust.TrustConfig, *, full: bool = False) -> pd.DataFrame:
    """Score every brand and account, raise the alerts and count violations; store all three.
    The counts behind the scores are kept, and only the months that changed are counted
    again (:func:`stored_counts`); ``full`` counts every month."""
    scores = score_entities(wh, config, stored_counts(wh, config, full=full))
    wh.write(TRUST_SCORES, result_arrow(TRUST_SCORES, scores))
    accounts = wh.execute(wh.table(contract.ACCOUNTS.name).select("account_id", "brand_id"))
    alerts = trust.trust_alerts(scores, accounts, config)
    wh.write(TRUST_ALERTS, _arrow(alerts, _ALERT_SCHEMA))
    wh.write(TRUST_VIOLATIONS, _arrow(trust.brand_violations(alerts), _VIOLATION_SCHEMA))
    return scores
