"""Both detectors over an order table: each flag's evidence and confidence, split into
high-confidence flags (left out of GMV) and flags for review.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from windmaker.models.brushing.config import (
    CONFIDENCE_HIGH,
    CONFIDENCE_REVIEW,
    FLAGGED_COLUMNS,
    METHOD_BLOCK,
    METHOD_BOTH,
    METHOD_RULE,
    NO_TIME,
    RING_SIGNALS,
    SIGNAL_CO_SHOP,
    SIGNAL_CONCENTRATION,
    SIGNAL_DENSE_BLOCK,
    SIGNAL_FRESH_ACCOUNT,
    SIGNAL_LOW_VALUE,
    SIGNAL_NO_REVIEW,
    SIGNAL_UNFULFILLED,
    SIGNALS,
    BrushingConfig,
    EvidenceConfig,
)
from windmaker.models.brushing.rings import Block, ring_blocks
from windmaker.models.brushing.rule import concentration_rule
from windmaker.models.brushing.stream import encode, seconds


@dataclass(frozen=True)
class EvidenceContext:
    """What the corroborating signals of flagged orders need from all the orders, aligned with
    the flagged rows: the first order time (seconds) of each one's buyer over all orders, the
    data's first order time, its shop's ``low_value_quantile`` and median amount over all the
    shop's orders, and the data's last ``paid_at``. ``None`` where the orders lack the column."""

    first_seen: np.ndarray | None
    data_start: int
    low_cut: np.ndarray | None
    low_mid: np.ndarray | None
    last_paid: pd.Timestamp | None


def corroborating(
    rows: pd.DataFrame,
    t: np.ndarray,
    buyer: np.ndarray,
    context: EvidenceContext,
    config: EvidenceConfig,
) -> dict[str, np.ndarray]:
    """The corroborating signals of the flagged orders ``rows`` (their seconds ``t`` and buyer
    codes ``buyer``), each a boolean array aligned with ``rows``: only those the configuration
    counts and whose columns exist."""
    out: dict[str, np.ndarray] = {}
    wanted = set(config.corroborating)
    if SIGNAL_FRESH_ACCOUNT in wanted and context.first_seen is not None:
        _, inv = np.unique(buyer, return_inverse=True)
        inv = inv.ravel()
        first_flag = np.full(int(inv.max()) + 1 if len(inv) else 0, np.iinfo(np.int64).max)
        np.minimum.at(first_flag, inv, t)
        days = int(config.fresh_days * 86400)
        fb, ff = context.first_seen, first_flag[inv]
        out[SIGNAL_FRESH_ACCOUNT] = (fb >= context.data_start + days) & (ff - fb <= days)
    if SIGNAL_LOW_VALUE in wanted and context.low_cut is not None and context.low_mid is not None:
        amount = rows["amount"].to_numpy(dtype=np.float64)
        # below the median too, so a shop whose orders all cost the same has no low values
        out[SIGNAL_LOW_VALUE] = (amount <= context.low_cut) & (amount < context.low_mid)
    if SIGNAL_UNFULFILLED in wanted and "status" in rows.columns:
        gone = rows["status"].isin(["refunded", "cancelled"]).to_numpy().copy()
        if "refund_amount" in rows.columns:
            gone |= rows["refund_amount"].fillna(0).to_numpy(dtype=np.float64) > 0
        if {"shipped_at", "promised_ship_by"} <= set(
            rows.columns
        ) and context.last_paid is not None:
            due = pd.to_datetime(rows["promised_ship_by"]) < context.last_paid
            gone |= (rows["shipped_at"].isna() & due).to_numpy()
        out[SIGNAL_UNFULFILLED] = gone
    if SIGNAL_NO_REVIEW in wanted and "reviewed" in rows.columns:
        out[SIGNAL_NO_REVIEW] = ~rows["reviewed"].to_numpy(dtype=bool)
    return out


def _evidence(
    orders: pd.DataFrame,
    idx: np.ndarray,
    shop: np.ndarray,
    buyer: np.ndarray,
    t: np.ndarray,
    config: EvidenceConfig,
) -> dict[str, np.ndarray]:
    """The corroborating signals of the flagged orders ``idx``, their context taken from all
    of ``orders`` in memory."""
    first_seen = cut = mid = None
    if len(t):
        seen = np.full(int(buyer.max()) + 1, np.iinfo(np.int64).max)
        np.minimum.at(seen, buyer, t)
        first_seen = seen[buyer[idx]]
    if "amount" in orders.columns:
        by_shop = pd.Series(orders["amount"].to_numpy(dtype=np.float64)).groupby(shop)
        cut = by_shop.quantile(config.low_value_quantile).reindex(shop[idx]).to_numpy()
        mid = by_shop.median().reindex(shop[idx]).to_numpy()
    last = pd.Timestamp(orders["paid_at"].max()) if len(orders) else None
    context = EvidenceContext(first_seen, int(t.min()) if len(t) else 0, cut, mid, last)
    return corroborating(orders.iloc[idx], t[idx], buyer[idx], context, config)


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


def _ts(v: np.ndarray) -> pd.Series:
    out = pd.Series(np.asarray(v, dtype=np.int64).astype("datetime64[s]")).astype("datetime64[us]")
    return out.where(np.asarray(v) != NO_TIME)


def named_windows(
    windows: pd.DataFrame, shop_ids: np.ndarray, buyer_ids: np.ndarray
) -> pd.DataFrame:
    """The rule's periods (:attr:`RuleResult.windows`) with shop and buyer codes turned into ids
    (``shop_ids[code]``, ``buyer_ids[code]``): ``mdl_brushing_windows``."""
    return windows.assign(
        brand_id=shop_ids[windows["shop"].to_numpy()] if len(windows) else [],
        suspicious_buyers=[
            ",".join(str(b) for b in buyer_ids[list(s)]) for s in windows["suspicious"]
        ],
        first=_ts(windows["first"].to_numpy()),
        last=_ts(windows["last"].to_numpy()),
    ).drop(columns=["shop", "suspicious"])


@dataclass(frozen=True)
class Flags:
    """Both detectors' results for the flagged orders, aligned with their rows: the rule's flag
    and earliest period (:class:`RuleResult`), the ring and its shop count (:class:`RingResult`)."""

    rule: np.ndarray
    window_start: np.ndarray
    window_end: np.ndarray
    window_orders: np.ndarray
    window_buyers: np.ndarray
    block_of: np.ndarray
    ring_shops: np.ndarray


def assemble(
    rows: pd.DataFrame,
    flags: Flags,
    evidence: dict[str, np.ndarray],
    windows: pd.DataFrame,
    blocks: list[Block],
    config: BrushingConfig,
) -> BrushingReport:
    """The report from the flagged orders ``rows`` (order_id, brand_id, buyer_id, paid_at), what
    the detectors and the corroborating ``evidence`` say of each, and the named periods and
    rings: the signals, ``method`` and confidence of each flag, in the rows' order."""
    by_block = flags.block_of >= 0
    signals = {
        SIGNAL_CONCENTRATION: flags.rule,
        SIGNAL_DENSE_BLOCK: by_block,
        SIGNAL_CO_SHOP: flags.ring_shops >= 2,
    }
    signals.update(evidence)
    n = len(rows)
    names = np.array([name for name in SIGNALS if name in signals])
    fired = np.stack([signals[name] for name in names], axis=1) if n else np.zeros((0, 0), bool)
    labels = ["+".join(names[row]) for row in fired]
    method = np.where(
        flags.rule & by_block, METHOD_BOTH, np.where(flags.rule, METHOD_RULE, METHOD_BLOCK)
    )
    review = pd.DataFrame(
        {
            "order_id": rows["order_id"].to_numpy(),
            "brand_id": rows["brand_id"].to_numpy(),
            "buyer_id": rows["buyer_id"].to_numpy(),
            "paid_at": pd.to_datetime(rows["paid_at"].to_numpy()).astype("datetime64[us]"),
            "method": method,
            "window_start": _ts(flags.window_start).to_numpy(),
            "window_end": _ts(flags.window_end).to_numpy(),
            "window_orders": np.asarray(flags.window_orders, dtype=np.int64),
            "window_buyers": np.asarray(flags.window_buyers, dtype=np.int64),
            "block_id": np.asarray(flags.block_of, dtype=np.int64),
            "signals": pd.Series(labels, dtype=object),
            "n_signals": fired.sum(axis=1).astype(np.int64) if n else np.zeros(0, np.int64),
            "confidence": confidence(signals, config.evidence.min_signals),
        },
        columns=list(FLAGGED_COLUMNS),
    )
    high = review[review["confidence"] == CONFIDENCE_HIGH].reset_index(drop=True)
    return BrushingReport(high, review, windows, blocks)


def detect_brushing(orders: pd.DataFrame, config: BrushingConfig) -> BrushingReport:
    """Run the concentration rule and the ring detector over ``orders``, weigh each flag's
    evidence and split the flags into high-confidence and review.

    ``orders`` has at least order_id, brand_id, buyer_id and paid_at; the other columns of
    :func:`brushing_input` (amount, status, shipping, reviewed) feed the signals that need them.
    ``method`` says which detector flagged an order (``rule``, ``block`` or ``rule+block``).
    Everything is in memory; :func:`windmaker.models.brushing.warehouse.detect_in_warehouse`
    gives the same report aggregating in the warehouse.
    """
    shop, shop_row = encode(orders, "brand_id")
    buyer, buyer_row = encode(orders, "buyer_id")
    shop_ids = orders["brand_id"].to_numpy()[shop_row]
    buyer_ids = orders["buyer_id"].to_numpy()[buyer_row]
    t = seconds(orders["paid_at"])
    rule = concentration_rule(
        shop, buyer, t, window_seconds=config.window_seconds, min_ratio=config.min_ratio
    )
    rings = ring_blocks(shop, buyer, t, config.blocks)
    sel = np.flatnonzero(rule.flagged | (rings.block_of >= 0))
    flags = Flags(
        rule.flagged[sel],
        rule.window_start[sel],
        rule.window_end[sel],
        rule.window_orders[sel],
        rule.window_buyers[sel],
        rings.block_of[sel],
        rings.ring_shops[sel],
    )
    evidence = _evidence(orders, sel, shop, buyer, t, config.evidence)
    blocks = [
        Block(b.block_id, shop_ids[b.shops], buyer_ids[b.buyers], b.orders, b.density)
        for b in rings.blocks
    ]
    rows = orders.iloc[sel]
    windows = named_windows(rule.windows, shop_ids, buyer_ids)
    return assemble(rows, flags, evidence, windows, blocks, config)
