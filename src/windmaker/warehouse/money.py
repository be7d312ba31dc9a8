"""The one money writer: yuan as DECIMAL(18,2), rounded to the nearest cent.

Money is stored exactly (DESIGN §2), but models compute it in binary floats (a predicted GMV, a
recommended spend). Every result table's money columns (:mod:`windmaker.results`) pass through
:func:`with_money` in :meth:`windmaker.warehouse.Warehouse.write`, so a writer hands over floats,
decimals or an Ibis expression and the stored column is the same DECIMAL(18,2) on every engine.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

#: The stored money type: yuan with two decimals, up to 10^16 yuan.
MONEY = pa.decimal128(18, 2)
MONEY_IBIS = dt.Decimal(18, 2)


def money(
    values: ir.Value | pd.Series | pa.Array | pa.ChunkedArray | Iterable[object],
) -> ir.Value | pa.Array:
    """``values`` as DECIMAL(18,2) yuan, rounded to the nearest cent; nulls and NaN stay null.

    An Ibis column stays an expression (the engine casts it); anything else becomes an Arrow
    array. Decimals already at two places or fewer are kept exactly.
    """
    if isinstance(values, ir.Value):
        if values.type() == MONEY_IBIS:
            return values
        if values.type().is_decimal():
            return values.cast(MONEY_IBIS)
        return values.round(2).cast(MONEY_IBIS)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(pd.Series(values) if not isinstance(values, pd.Series) else values)
    if values.type == MONEY:
        return values
    if pa.types.is_decimal(values.type) and values.type.scale <= 2:
        return values.cast(MONEY)
    floats = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    missing = np.isnan(floats)
    # whole cents first, half away from zero: Arrow's float-to-decimal cast then is exact
    cents = np.where(missing, 0.0, np.sign(floats) * np.floor(np.abs(floats) * 100 + 0.5))
    return pa.array(cents / 100, pa.float64(), mask=missing).cast(MONEY)


def with_money(
    obj: ir.Table | pa.Table | pd.DataFrame, columns: Iterable[str]
) -> ir.Table | pa.Table | pd.DataFrame:
    """``obj`` with each of ``columns`` it holds as DECIMAL(18,2) (:func:`money`).

    An Ibis table stays an expression; a DataFrame with money columns becomes an Arrow table,
    since pandas has no decimal column type of its own. Nothing changes when ``columns`` names
    none of ``obj``'s columns.
    """
    present = [c for c in columns if c in _names(obj)]
    if not present:
        return obj
    if isinstance(obj, ir.Table):
        changed = [c for c in present if obj[c].type() != MONEY_IBIS]
        if not changed:
            return obj
        return obj.mutate(**{c: money(obj[c]) for c in changed})
    table = obj if isinstance(obj, pa.Table) else pa.Table.from_pandas(obj, preserve_index=False)
    for name in present:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, pa.field(name, MONEY), money(table.column(name)))
    return table


def _names(obj: ir.Table | pa.Table | pd.DataFrame) -> list[str]:
    if isinstance(obj, pa.Table):
        return list(obj.column_names)
    return [str(c) for c in obj.columns]
