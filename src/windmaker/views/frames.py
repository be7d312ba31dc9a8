"""Result-table rows as JSON-safe Python values (no NaN, numpy scalars or pandas timestamps)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def clean(value: Any) -> Any:
    """A JSON-safe Python value: no NaN, numpy scalars or pandas timestamps."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float | np.floating):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if value is pd.NaT:
        return None
    if hasattr(value, "is_nan") and value.is_nan():  # decimal.Decimal
        return None
    if isinstance(value, list | tuple | np.ndarray):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _column(values: pd.Series) -> list[Any]:
    """One column as JSON-safe Python values; float and integer columns converted whole."""
    kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else ""
    if kind == "f":
        array = values.to_numpy()
        out: list[Any] = array.tolist()
        for i in np.flatnonzero(~np.isfinite(array)).tolist():
            out[i] = None
        return out
    if kind in "iub" and kind:
        return list(values.tolist())
    return [clean(v) for v in values.tolist()]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as JSON-safe dicts."""
    cols = list(frame.columns)
    columns = [_column(frame.iloc[:, i]) for i in range(len(cols))]
    return [dict(zip(cols, row, strict=True)) for row in zip(*columns, strict=True)]


def group_records(frame: pd.DataFrame) -> dict[str, dict[Any, list[dict[str, Any]]]]:
    """``frame``'s rows as JSON-safe records, by brand then by period (None: no period)."""
    out: dict[str, dict[Any, list[dict[str, Any]]]] = {}
    if frame.empty or "brand_id" not in frame.columns:
        return out
    has_period = "period" in frame.columns
    for rec in records(frame):
        period = rec["period"] if has_period else None
        out.setdefault(str(rec["brand_id"]), {}).setdefault(period, []).append(rec)
    return out
