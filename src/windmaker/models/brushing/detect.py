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


def _evidence(
    orders: pd.DataFrame,
    idx: np.ndarray,
    shop: np.ndarray,
    buyer: np.ndarray,
    t: np.ndarray,
    config: EvidenceConfig,
) -> dict[str, np.ndarray]:
    """The corroborating signals of the flagged orders ``idx`` (only those whose columns are
    in ``orders``): each a boolean array aligned with ``idx``."""
    out: dict[str, np.ndarray] = {}
    wanted = set(config.corroborating)
    if SIGNAL_FRESH_ACCOUNT in wanted and len(t):
        first_seen = np.full(int(buyer.max()) + 1, np.iinfo(np.int64).max)
        np.minimum.at(first_seen, buyer, t)
        first_flag = np.full(len(first_seen), np.iinfo(np.int64).max)
        np.minimum.at(first_flag, buyer[idx], t[idx])
        days = int(config.fresh_days * 86400)
        fb, ff = first_seen[buyer[idx]], first_flag[buyer[idx]]
        out[SIGNAL_FRESH_ACCOUNT] = (fb >= int(t.min()) + days) & (ff - fb <= days)
    if SIGNAL_LOW_VALUE in wanted and "amount" in orders.columns:
        amount = orders["amount"].to_numpy(dtype=np.float64)
        by_shop = pd.Series(amount).groupby(shop)
        cut = by_shop.quantile(config.low_value_quantile).reindex(shop[idx]).to_numpy()
        mid = by_shop.median().reindex(shop[idx]).to_numpy()
        # below the median too, so a shop whose orders all cost the same has no low values
        out[SIGNAL_LOW_VALUE] = (amount[idx] <= cut) & (amount[idx] < mid)
    if SIGNAL_UNFULFILLED in wanted and "status" in orders.columns:
        o = orders.iloc[idx]
        gone = o["status"].isin(["refunded", "cancelled"]).to_numpy().copy()
        if "refund_amount" in o.columns:
            gone |= o["refund_amount"].fillna(0).to_numpy(dtype=np.float64) > 0
        if {"shipped_at", "promised_ship_by"} <= set(o.columns):
            last = pd.Timestamp(orders["paid_at"].max())
            due = pd.to_datetime(o["promised_ship_by"]) < last
            gone |= (o["shipped_at"].isna() & due).to_numpy()
        out[SIGNAL_UNFULFILLED] = gone
    if SIGNAL_NO_REVIEW in wanted and "reviewed" in orders.columns:
        out[SIGNAL_NO_REVIEW] = ~orders["reviewed"].to_numpy(dtype=bool)[idx]
    return out


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


def detect_brushing(orders: pd.DataFrame, config: BrushingConfig) -> BrushingReport:
    """Run the concentration rule and the ring detector over ``orders``, weigh each flag's
    evidence and split the flags into high-confidence and review.

    ``orders`` has at least order_id, brand_id, buyer_id and paid_at; the other columns of
    :func:`brushing_input` (amount, status, shipping, reviewed) feed the signals that need them.
    ``method`` says which detector flagged an order (``rule``, ``block`` or ``rule+block``).
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
    rings = ring_blocks(shop, buyer, t, config.blocks)
    by_block = rings.block_of >= 0
    sel = np.flatnonzero(rule.flagged | by_block)
    signals = {
        SIGNAL_CONCENTRATION: rule.flagged[sel],
        SIGNAL_DENSE_BLOCK: by_block[sel],
        SIGNAL_CO_SHOP: rings.ring_shops[sel] >= 2,
    }
    signals.update(_evidence(orders, sel, shop, buyer, t, config.evidence))
    names = np.array([n for n in SIGNALS if n in signals])
    fired = np.stack([signals[n] for n in names], axis=1) if len(sel) else np.zeros((0, 0), bool)
    labels = ["+".join(names[row]) for row in fired]
    method = np.where(
        rule.flagged[sel] & by_block[sel],
        METHOD_BOTH,
        np.where(rule.flagged[sel], METHOD_RULE, METHOD_BLOCK),
    )

    def _ts(v: np.ndarray) -> pd.Series:
        out = pd.Series(v.astype("datetime64[s]")).astype("datetime64[us]")
        return out.where(v != NO_TIME)

    review = pd.DataFrame(
        {
            "order_id": orders["order_id"].to_numpy()[sel],
            "brand_id": brand_col[sel],
            "buyer_id": buyer_col[sel],
            "paid_at": pd.to_datetime(orders["paid_at"].to_numpy()[sel]).astype("datetime64[us]"),
            "method": method,
            "window_start": _ts(rule.window_start[sel]).to_numpy(),
            "window_end": _ts(rule.window_end[sel]).to_numpy(),
            "window_orders": rule.window_orders[sel],
            "window_buyers": rule.window_buyers[sel],
            "block_id": rings.block_of[sel],
            "signals": pd.Series(labels, dtype=object),
            "n_signals": fired.sum(axis=1).astype(np.int64) if len(sel) else np.zeros(0, np.int64),
            "confidence": confidence(signals, config.evidence.min_signals),
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
        for b in rings.blocks
    ]
    high = review[review["confidence"] == CONFIDENCE_HIGH].reset_index(drop=True)
    return BrushingReport(high, review, windows, named_blocks)
