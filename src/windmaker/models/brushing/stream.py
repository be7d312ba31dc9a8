"""The order stream the detectors read: the Ibis expression that selects it, and its times and
ids as dense integer arrays.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from windmaker import contract

#: How :func:`id_key` hashes ids: stored detection state made with other keys is not reused.
ID_KEYS = "duckdb: hash >> 1; other engines: hash"


@ibis.udf.scalar.builtin(name="hash")
def _engine_hash(value: str) -> dt.uint64:  # type: ignore[empty-body]
    """The engine's own hash of a value (DuckDB: unsigned 64-bit)."""


def id_key(column: ir.StringValue) -> ir.IntegerValue:
    """A signed 64-bit integer key of each id, computed by the engine.

    On DuckDB, its 64-bit hash shifted to 63 bits: Ibis's ``hash()`` turns DuckDB's unsigned
    hash into a signed one through a bit string (``CAST(CAST(HASH(x) AS BIT) AS BIGINT)``),
    which cost as much as the rest of a pass over the orders (21M orders: 0.7 s a query for
    the two ids). Other engines: their ``hash()`` (Spark: 32-bit Murmur3)."""
    try:
        engine = ibis.get_backend(column).name
    except Exception:  # an unbound expression: no engine to tailor the key to
        engine = ""
    if engine == "duckdb":
        return (_engine_hash(column) >> 1).cast("uint64").cast("int64")
    return column.hash()


def brushing_input(orders: ibis.Table, reviews: ibis.Table | None = None) -> ibis.Table:
    """The order stream the detectors read: one row per order, every status included, with
    integer keys of the shop and buyer ids computed by the engine (``*_key``, :func:`id_key`),
    the amount, fulfilment columns and, given ``reviews``, whether the order was reviewed.

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
        brand_id_key=id_key(orders.brand_id),
        buyer_id_key=id_key(orders.buyer_id),
        **extra,
    )


def _whole_seconds(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole seconds since the epoch, floored like :func:`seconds` (DuckDB's ``epoch`` keeps the
    fraction; Spark's ``unix_timestamp`` drops it)."""
    return ts.epoch_seconds().cast("float64").floor().cast("int64")


def with_keys(stream: ibis.Table) -> ibis.Table:
    """The order stream (:func:`brushing_input`) with its second (``t``) and its shop and buyer
    hashes (``shop``, ``buyer``)."""
    stream = stream.mutate(t=_whole_seconds(stream.paid_at))
    return stream.mutate(shop=stream.brand_id_key, buyer=stream.buyer_id_key)


def order_keys(orders: ibis.Table) -> ibis.Table:
    """One row per order: its shop and buyer hashes and its second (shop, buyer, t), every
    column a 64-bit integer. Stored, the detection's passes that read nothing else scan these
    three columns instead of reading the ids and hashing them again (21M orders: 0.05 s a scan
    against 0.3–0.4 s, :func:`windmaker.models.brushing.detect_in_warehouse`'s ``keys``)."""
    return with_keys(brushing_input(orders)).select("shop", "buyer", "t")


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
