"""Accuracy against planted truth: precision and recall of flagged buyers, shops and orders."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from windmaker.models.brushing.config import METHOD_BLOCK, METHOD_BOTH, METHOD_RULE


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
        METHOD_BLOCK: flagged["method"].isin([METHOD_BLOCK, METHOD_BOTH]),
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


def bar_figures(
    flagged: pd.DataFrame, orders_per_brand: pd.Series, rings: pd.DataFrame | None = None
) -> dict[str, float | int | str]:
    """The figures brushing detection is held to, for one market.

    ``flagged`` are the high-confidence flags, ``orders_per_brand`` every brand's order count
    (brands without flags included), ``rings`` the planted truth (with a ``kind`` column when
    the simulator wrote one). Returns the flagged share of all orders, the largest share of one
    brand's orders (and that brand), and per ring kind the precision and recall of flagged
    buyers and shops. A kind's precision counts the flags outside its rings that belong to no
    other kind's ring as false, so kinds planted in one market are measured apart.
    """
    total = int(orders_per_brand.sum())
    per_brand = flagged.groupby("brand_id").size().reindex(orders_per_brand.index, fill_value=0)
    share = per_brand / orders_per_brand.clip(lower=1)
    out: dict[str, float | int | str] = {
        "orders": total,
        "flagged_orders": len(flagged),
        "flagged_share": len(flagged) / total if total else 0.0,
        "max_brand_share": float(share.max()) if len(share) else 0.0,
        "max_brand": str(share.idxmax()) if len(share) and share.max() > 0 else "",
    }
    if rings is None or rings.empty:
        return out
    kinds = rings["kind"] if "kind" in rings.columns else pd.Series("all", index=rings.index)
    for kind in sorted(set(kinds)):
        mine, other = rings[kinds == kind], rings[kinds != kind]
        for level, name in (("buyer_id", "buyer"), ("brand_id", "shop")):
            truth = set(mine[level])
            f = set(flagged[level]) - (set(other[level]) - truth)
            p, r = precision_recall(f, truth)
            out[f"{kind}_{name}_precision"] = p
            out[f"{kind}_{name}_recall"] = r
    return out
