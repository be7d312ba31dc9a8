"""Frames are written as result tables with their declared columns and types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from windmaker import results
from windmaker.results import TRUST_SCORES
from windmaker.services.result_tables import result_arrow


def _frame(entity_ids: pd.Series) -> pd.DataFrame:
    """A frame of trust scores with every declared column, the ids as given."""
    n = len(entity_ids)
    out: dict[str, object] = {}
    for col in results.table(TRUST_SCORES).columns:
        if col.dtype == "string":
            out[col.name] = ["x"] * n
        elif col.dtype == "date":
            out[col.name] = pd.to_datetime(["2026-01-01"] * n)
        elif col.dtype == "bool":
            out[col.name] = [True] * n
        else:
            out[col.name] = np.arange(n, dtype=float)
    frame = pd.DataFrame(out)
    frame["entity_id"] = entity_ids.to_numpy()
    return frame


def test_text_ids_keep_their_text_and_missing_ones_are_null() -> None:
    ids = pd.Series(["B001", None, pd.NA, "品牌"], dtype=object)
    got = result_arrow(TRUST_SCORES, _frame(ids))
    assert got.schema.field("entity_id").type == pa.string()
    assert got.column("entity_id").to_pylist() == ["B001", None, None, "品牌"]


def test_ids_held_as_numbers_are_written_as_text() -> None:
    got = result_arrow(TRUST_SCORES, _frame(pd.Series([7, None, 12], dtype=object)))
    assert got.column("entity_id").to_pylist() == ["7", None, "12"]


def test_an_empty_frame_keeps_the_declared_types() -> None:
    got = result_arrow(TRUST_SCORES, _frame(pd.Series([], dtype=object)))
    assert got.num_rows == 0
    assert got.schema.field("entity_id").type == pa.string()
