"""Columns of text built with Arrow kernels: the stage reasons and the plan evidence JSON."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


class Text:
    """A column of text for vectorised sentence building on Arrow kernels.

    ``+`` concatenates element-wise (with another column or a constant), ``where`` picks per
    row; each operation is one Arrow compute call over the whole column.
    """

    __slots__ = ("a",)

    def __init__(self, a: pa.Array) -> None:
        self.a = a

    @staticmethod
    def of(values: object) -> Text:
        return Text(pa.array(np.asarray(values, dtype=object), type=pa.string()))

    @staticmethod
    def _arr(other: object) -> pa.Array | pa.Scalar:
        if isinstance(other, Text):
            return other.a
        return pa.scalar(str(other), type=pa.string())

    def __add__(self, other: object) -> Text:
        return Text(pc.binary_join_element_wise(self.a, self._arr(other), ""))

    def __radd__(self, other: object) -> Text:
        return Text(pc.binary_join_element_wise(self._arr(other), self.a, ""))

    def where(self, cond: object, other: object) -> Text:
        mask = pa.array(np.asarray(cond, dtype=bool))
        return Text(pc.if_else(mask, self.a, self._arr(other)))

    def to_numpy(self) -> np.ndarray:
        return np.asarray(self.a.to_numpy(zero_copy_only=False), dtype=object)


def num_text(x: pd.Series, decimals: int) -> Text:
    """Numbers as text rounded to ``decimals`` (no trailing zeros), ``n/a`` for missing.

    Arrow's float-to-string cast writes the shortest round-trip form, so the text is vectorised.
    """
    arr = pa.array(x.astype("float64").round(decimals).to_numpy(), from_pandas=True)
    if decimals == 0:
        arr = pc.cast(arr, pa.int64(), safe=False)
    return Text(pc.fill_null(pc.cast(arr, pa.string()), "n/a"))
