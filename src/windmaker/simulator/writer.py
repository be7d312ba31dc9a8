"""Writing the market: Arrow arrays in the contract's types and streaming table sinks.

Contract tables go to ``DIR/<table>.<fmt>`` (Parquet streamed by row groups, CSV streamed, XLSX
written at close for small markets); ``truth/`` and ``ecosystem/`` are always Parquet. Money is
built as ``decimal128(18, 2)`` directly from integer cents (exact); timestamps as naive
``timestamp[us]`` of the Asia/Shanghai wall clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from windmaker import contract

Format = Literal["parquet", "csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("parquet", "csv", "xlsx")
#: Parquet compression codecs offered for the contract tables (truth/ is always snappy).
COMPRESSIONS = ("snappy", "zstd", "none")
XLSX_MAX_ROWS = 1_048_575

_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "money": pa.decimal128(18, 2),
    "float": pa.float64(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "bool": pa.bool_(),
}


def arrow_type(dtype: str) -> pa.DataType:
    return _ARROW[dtype]


def contract_schema(tbl: contract.Table) -> pa.Schema:
    """Arrow schema of a contract table: its columns, in order, with their stored types."""
    return pa.schema([pa.field(c.name, arrow_type(c.dtype)) for c in tbl.columns])


def _validity(mask: np.ndarray | None, n: int) -> pa.Buffer | None:
    if mask is None:
        return None
    return pa.py_buffer(np.packbits(~np.asarray(mask, dtype=bool), bitorder="little"))


def money(cents: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """DECIMAL(18,2) yuan from int64 cents, exactly (the 128-bit two's complement of cents)."""
    c = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(c), 2), dtype=np.int64)
    words[:, 0] = c
    words[:, 1] = np.where(c < 0, -1, 0)
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), len(c), [_validity(null, len(c)), pa.py_buffer(words)]
    )


def timestamps(seconds: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Naive timestamp[us] from int64 seconds of the Shanghai wall clock."""
    us = np.asarray(seconds, dtype=np.int64) * 1_000_000
    return pa.array(us, type=pa.timestamp("us"), mask=null)


def dates(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """date32 from datetime64[D] values."""
    d = np.asarray(days, dtype="datetime64[D]")
    nat = np.isnat(d)
    mask = nat if null is None else (np.asarray(null) | nat)
    return pa.array(d.astype(np.int64).astype(np.int32), type=pa.date32(), mask=mask)


# ASCII digits of 0..9, 00..99 and 0000..9999 as 1-, 2- and 4-byte little-endian integers.
_DIGIT_TABLES = {
    k: np.array([list(f"{i:0{k}d}".encode()) for i in range(10**k)], dtype=np.uint8)
    .view(f"<u{k}")
    .ravel()
    for k in (1, 2, 4)
}


def _digit_groups(width: int) -> list[int]:
    """Split ``width`` digits into groups of 4, 2 and 1 (most significant first)."""
    groups = [4] * (width // 4)
    rest = width % 4
    return ([1] if rest in (1, 3) else []) + ([2] if rest >= 2 else []) + groups


def ids(prefix: str, index: np.ndarray, width: int, null: np.ndarray | None = None) -> pa.Array:
    """Identifiers ``prefix`` + zero-padded (index + 1), e.g. ``B000001`` (null where ``null``).

    Built as fixed-width UTF-8 bytes in numpy (a packed record per id whose fields take 4, 2 or
    1 digits at a time from lookup tables) and handed to Arrow as buffers: no Python string per
    row.
    """
    value = np.asarray(index, dtype=np.int64) + 1
    n = len(value)
    if n and int(value.max()) >= 10**width:
        raise ValueError(f"identifier {prefix}{int(value.max())} does not fit in {width} digits")
    head = prefix.encode()
    groups = _digit_groups(width)
    fields = [("prefix", f"S{len(head)}")] + [(f"g{i}", f"<u{k}") for i, k in enumerate(groups)]
    rec = np.empty(n, dtype=np.dtype(fields))  # packed: no padding between fields
    rec["prefix"] = head
    v = value.astype(np.uint32 if n == 0 or int(value.max()) < 2**32 else np.uint64)
    for i in range(len(groups) - 1, -1, -1):
        k = groups[i]
        unit = 10**k
        rec[f"g{i}"] = _DIGIT_TABLES[k][np.remainder(v, unit, dtype=v.dtype)]
        v = np.floor_divide(v, unit, dtype=v.dtype)
    size = rec.dtype.itemsize
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [_validity(null, n), pa.py_buffer(offsets), pa.py_buffer(rec)]
    )


def codes(values: tuple[str, ...], index: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Strings from a code table by index (dictionary-decoded, so no Python loop)."""
    idx = pa.array(np.asarray(index, dtype=np.int32), mask=null)
    return pa.DictionaryArray.from_arrays(idx, pa.array(values, pa.string())).cast(pa.string())


def strings(values: list[str] | np.ndarray) -> pa.Array:
    return pa.array(list(values), type=pa.string())


class Sink:
    """A table being written batch by batch (Parquet / CSV stream; XLSX at close)."""

    def __init__(
        self, path: Path, schema: pa.Schema, fmt: Format, compression: str = "snappy"
    ) -> None:
        self.path = path.with_suffix(f".{fmt}")
        self.schema = schema
        self.fmt = fmt
        self.rows = 0
        self._batches: list[pa.Table] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(
                self.path,
                schema,
                compression=compression,
                use_dictionary=[n for n in schema.names if n in _DICTIONARY_COLUMNS],
                store_decimal_as_integer=True,
                write_statistics=[n for n in schema.names if n in _STATISTICS_COLUMNS],
            )
        elif fmt == "csv":
            self._writer = pacsv.CSVWriter(self.path, schema)

    def write(self, table: pa.Table) -> None:
        table = table.select(self.schema.names)
        if table.schema != self.schema:
            table = table.cast(self.schema)
        self.rows += table.num_rows
        if self.fmt == "xlsx":
            if self.rows > XLSX_MAX_ROWS:
                raise ValueError(
                    f"{self.path.name}: more than {XLSX_MAX_ROWS:,} rows do not fit in XLSX"
                )
            self._batches.append(table)
        elif self._writer is not None:
            self._writer.write_table(table)

    def close(self) -> None:
        if self.fmt == "xlsx":
            _write_xlsx(
                self.path,
                pa.concat_tables(self._batches) if self._batches else self.schema.empty_table(),
            )
        elif self._writer is not None:
            if self.rows == 0:
                self._writer.write_table(self.schema.empty_table())
            self._writer.close()


#: Low-cardinality columns worth dictionary encoding in Parquet. The rest are written plain:
#: on the demo market's orders, dictionary-encoding timestamps and money (nearly every value
#: distinct) cost 1.6 s of the table's 4.5 s and made those columns larger, not smaller.
_DICTIONARY_COLUMNS = frozenset(
    {
        "brand_id",
        "sku_id",
        "account_id",
        "quantity",
        "score",
        "date",
        "month",
        "special_supply",
        "list_price",
        "category",
        "origin",
        "kind",
        "traffic_source",
        "status",
        "complaint",
        "region",
        "dedicated_brand_id",
        "campaign_id",
        "factory_id",
        "name",
        "bottleneck",
        "stage",
        "capabilities",
        "categories",
    }
)


#: Columns whose min/max statistics readers use to skip row groups (time and brand).
_STATISTICS_COLUMNS = frozenset(
    {
        "paid_at",
        "started_at",
        "date",
        "created_at",
        "followed_at",
        "joined_at",
        "launched_at",
        "brand_id",
        "month",
    }
)


def _write_xlsx(path: Path, table: pa.Table) -> None:
    """One sheet named after the table; fixed document times so the file is reproducible."""
    from datetime import datetime

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    fixed = datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    ws = wb.create_sheet(path.stem)
    ws.append(table.column_names)
    for row in zip(*(col.to_pylist() for col in table.columns), strict=True):
        ws.append(list(row))
    wb.save(path)


def write_parquet(path: Path, table: pa.Table) -> None:
    """A whole (small) table to Parquet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="snappy", store_decimal_as_integer=True)
