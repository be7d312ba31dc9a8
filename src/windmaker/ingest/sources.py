"""Readers: each input file becomes a DuckDB scan with its original headers and a line number.

DuckDB reads UTF-8 CSV, Parquet and JSON lines itself (in parallel, streaming). What it cannot
read directly is converted first, streaming in chunks so a large file never sits in Python
memory: GBK/GB18030 (and other non-UTF-8) CSV is transcoded to a UTF-8 temporary file, XLSX
rows and the 快手小店 open-platform order JSON are written to a temporary Parquet file.
"""

from __future__ import annotations

import codecs
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from windmaker.ingest import openplatform
from windmaker.ingest.coercion import quote_ident, quote_literal

Format = Literal["csv", "xlsx", "parquet", "jsonl", "openplatform"]

LINE = "__line"
SAMPLE_BYTES = 256 * 1024
CHUNK_BYTES = 4 * 1024 * 1024
BATCH_ROWS = 50_000

_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
_GB_FAMILY = ("gb2312", "gbk", "gb18030", "hz", "cp936")


class SourceError(ValueError):
    """A file cannot be read as a table at all (format, encoding, structure)."""


@dataclass
class Source:
    """One input file, ready to be scanned by DuckDB.

    ``scan`` is a SQL relation with the file's columns under their original headers, plus
    ``__line`` where the format gives it for free: the sheet row of an XLSX, the 1-based row of a
    Parquet file, the order's position in an open-platform file. CSV and JSON lines have no such
    column, because numbering rows in a query (a window) would serialise the whole scan; their
    line is the staging table's ``rowid + line_base`` instead (the scan keeps the file's order),
    and ``numbered`` is the same scan with ``__line`` for the rare re-read of a few rows.
    """

    path: Path
    fmt: Format
    headers: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    scan: str = ""
    numbered: str = ""
    line_base: int | None = None
    encoding: str | None = None
    empty: bool = False
    #: Money units fixed by the format (the open platform always sends fen).
    units: dict[str, Literal["yuan", "fen"]] = field(default_factory=dict)
    temp_files: list[Path] = field(default_factory=list)

    def cleanup(self) -> None:
        for p in self.temp_files:
            with contextlib.suppress(OSError):
                p.unlink()


def detect_format(path: Path) -> Format:
    """The file's format, from its suffix and, for JSON, its first record."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in _JSON_SUFFIXES:
        with path.open("rb") as fh:
            head = fh.read(SAMPLE_BYTES).decode("utf-8", errors="ignore")
        return "openplatform" if openplatform.looks_like(head) else "jsonl"
    if suffix in _CSV_SUFFIXES or suffix == "":
        return "csv"
    raise SourceError(
        f"{path}: unsupported file type {suffix!r}; use CSV, XLSX, Parquet or JSON lines"
    )


def open_source(con: Any, path: Path, tmp_dir: Path) -> Source:
    """Inspect ``path`` (headers, types, encoding) and prepare its scan; converts when needed."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    fmt = detect_format(path)
    src = Source(path=path, fmt=fmt)
    if path.stat().st_size == 0:
        src.empty = True
        return src
    if fmt == "csv":
        _open_csv(con, src, tmp_dir)
    elif fmt == "parquet":
        _describe(con, src, _parquet_scan(path))
    elif fmt == "jsonl":
        _open_json(con, src)
    elif fmt == "xlsx":
        _open_xlsx(con, src, tmp_dir)
    else:
        _open_openplatform(con, src, tmp_dir)
    if not src.headers:
        src.empty = True
    return src


def _describe(con: Any, src: Source, scan: str, numbered: str | None = None) -> None:
    rows = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    src.scan = scan
    src.numbered = numbered or scan
    src.headers = [r[0] for r in rows if r[0] != LINE]
    src.types = {r[0]: str(r[1]) for r in rows if r[0] != LINE}


# -- CSV ---------------------------------------------------------------------------------------
def detect_encoding(path: Path) -> str:
    """``utf-8`` (BOM or not) when the sample decodes as UTF-8, else charset-normalizer's guess.

    A sample is enough: exports use one encoding throughout, and a wrong guess surfaces as a
    clear error from the reader rather than silently altered text.
    """
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    enc = best.encoding.lower().replace("-", "").replace("_", "") if best else ""
    if any(enc.startswith(g) for g in _GB_FAMILY) or _reads_as_chinese(sample):
        # GB18030 is a superset of GB2312 and GBK, and the encoding of Chinese back-office
        # exports: on short samples the detector may name another CJK code page instead.
        return "gb18030"
    if best is None:
        raise SourceError(f"{path}: cannot tell the text encoding; save it as UTF-8 or GBK")
    return best.encoding


def _reads_as_chinese(sample: bytes) -> bool:
    """Whether ``sample`` decodes as GB18030 into text with Chinese characters."""
    try:
        text = codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def transcode(path: Path, encoding: str, out: Path) -> None:
    """Rewrite ``path`` as UTF-8 into ``out``, in chunks (constant memory)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as fin, out.open("w", encoding="utf-8", newline="") as fout:
            while chunk := fin.read(CHUNK_BYTES):
                fout.write(decoder.decode(chunk))
            fout.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path}: not valid {encoding} at byte {exc.start}; save it as UTF-8 or GBK"
        ) from None


def _csv_scan(path: Path) -> str:
    return (
        f"read_csv({quote_literal(str(path))}, all_varchar = true, header = true, "
        "auto_detect = true)"
    )


def _numbered(scan: str, base: int) -> str:
    """``scan`` with ``__line`` = row index + ``base`` (a window: ordered, single-threaded)."""
    return f"(SELECT row_number() OVER () + {base - 1} AS {LINE}, * FROM {scan})"


def _open_csv(con: Any, src: Source, tmp_dir: Path) -> None:
    src.encoding = detect_encoding(src.path)
    target = src.path
    if src.encoding != "utf-8":
        target = tmp_dir / f"{src.path.stem}.utf8.csv"
        transcode(src.path, src.encoding, target)
        src.temp_files.append(target)
    with target.open("rb") as fh:
        if not fh.read(SAMPLE_BYTES).lstrip(codecs.BOM_UTF8).strip():
            src.empty = True
            return
    try:
        scan = _csv_scan(target)
        _describe(con, src, scan, _numbered(scan, 2))
        src.line_base = 2  # the header is line 1
    except Exception as exc:  # DuckDB's sniffer explains what is wrong with the file
        raise SourceError(f"{src.path}: cannot read as CSV: {exc}") from None
    src.headers = [h.replace("\ufeff", "") for h in src.headers]


# -- Parquet, JSON lines -------------------------------------------------------------------------
def _parquet_scan(path: Path) -> str:
    return (
        f"(SELECT file_row_number + 1 AS {LINE}, * EXCLUDE (file_row_number) "
        f"FROM read_parquet({quote_literal(str(path))}, file_row_number = true))"
    )


def _open_json(con: Any, src: Source) -> None:
    p = quote_literal(str(src.path))
    try:
        keys = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_json_auto({p})").fetchall()]
    except Exception as exc:
        raise SourceError(f"{src.path}: cannot read as JSON lines: {exc}") from None
    # Every field as text, so a value of the wrong type is quarantined rather than failing the scan.
    columns = "{" + ", ".join(f"{quote_literal(k)}: 'VARCHAR'" for k in keys) + "}"
    scan = f"read_json({p}, columns = {columns})"
    _describe(con, src, scan, _numbered(scan, 1))
    src.line_base = 1


# -- XLSX --------------------------------------------------------------------------------------
def cell_text(value: Any) -> str | None:
    """A spreadsheet cell as the text a user sees: whole numbers without ``.0``, ISO dates."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def unique_headers(raw: list[Any]) -> list[str]:
    """Header cells as unique names (blank → ``column_N``, repeats get ``_2``, ``_3``)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(raw):
        name = (cell_text(h) or "").strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _write_text_parquet(
    out: Path, headers: list[str], rows: Iterator[tuple[int, list[str | None]]]
) -> int:
    """Stream (line, values) rows into a Parquet file of text columns; returns the row count."""
    schema = pa.schema([(LINE, pa.int64()), *[(h, pa.string()) for h in headers]])
    n = 0
    with pq.ParquetWriter(out, schema) as writer:
        batch: list[tuple[int, list[str | None]]] = []

        def flush() -> None:
            cols = [pa.array([b[0] for b in batch], pa.int64())]
            cols += [
                pa.array([b[1][j] if j < len(b[1]) else None for b in batch], pa.string())
                for j in range(len(headers))
            ]
            writer.write_table(pa.Table.from_arrays(cols, schema=schema))

        for item in rows:
            batch.append(item)
            n += 1
            if len(batch) >= BATCH_ROWS:
                flush()
                batch = []
        if batch or n == 0:
            flush()
    return n


def _open_xlsx(con: Any, src: Source, tmp_dir: Path) -> None:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(src.path, read_only=True, data_only=True)
    except Exception as exc:
        raise SourceError(f"{src.path}: cannot read as XLSX: {exc}") from None
    try:
        ws = wb.active
        if ws is None:
            src.empty = True
            return
        rows = ws.iter_rows(values_only=True)
        headers: list[str] | None = None
        header_line = 0
        for header_line, row in enumerate(rows, start=1):  # noqa: B007 - used after the loop
            if any(c is not None and str(c).strip() for c in row):
                headers = unique_headers(list(row))
                break
        if headers is None:
            src.empty = True
            return

        def data() -> Iterator[tuple[int, list[str | None]]]:
            for line, row in enumerate(rows, start=header_line + 1):
                values = [cell_text(c) for c in row]
                if any(v is not None and v.strip() for v in values):
                    yield line, values

        out = tmp_dir / f"{src.path.stem}.xlsx.parquet"
        src.temp_files.append(out)
        _write_text_parquet(out, headers, data())
    finally:
        wb.close()
    _describe(con, src, f"read_parquet({quote_literal(str(out))})")


# -- 快手小店 open-platform order JSON ----------------------------------------------------------
def _open_openplatform(con: Any, src: Source, tmp_dir: Path) -> None:
    out = tmp_dir / f"{src.path.stem}.orders.parquet"
    src.temp_files.append(out)
    try:
        records = openplatform.iter_orders(src.path)
        rows = ((i, row) for i, row in openplatform.to_rows(records))
        headers = list(openplatform.COLUMNS)
        _write_text_parquet(out, headers, ((i, [row.get(h) for h in headers]) for i, row in rows))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{src.path}: not valid open-platform order JSON: {exc}") from None
    src.units = dict.fromkeys(openplatform.MONEY_COLUMNS, "fen")
    _describe(con, src, f"read_parquet({quote_literal(str(out))})")


__all__ = ["LINE", "Source", "SourceError", "detect_format", "open_source", "quote_ident"]
