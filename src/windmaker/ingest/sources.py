"""Readers: each input file becomes a DuckDB scan with its original headers and a line number.

DuckDB reads Parquet itself (in parallel, streaming). CSV is parsed first, line by line, into a
normalised UTF-8 copy (``csvfile``: every record numbered by its line, malformed ones marked
with their reason, GBK/GB18030 decoded on the way); XLSX rows, JSON lines and the 快手小店
open-platform order JSON are written to a temporary Parquet file of text columns. Everything is
streamed, so a large file never sits in Python memory (a JSON document that is one array is
the exception: it is parsed whole).

Every refusal names the file by its name (never the folder it was uploaded to) and says what is
wrong in words: the readers' own messages (DuckDB, openpyxl, json) are not passed on.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from windmaker.ingest import csvfile, openplatform
from windmaker.ingest.coercion import quote_ident, quote_literal
from windmaker.ingest.unpack import SourceError, UnpackLimits, check_zip, unpack

Format = Literal["csv", "xlsx", "parquet", "jsonl", "openplatform"]

LINE = csvfile.LINE
BAD = csvfile.BAD
SAMPLE_BYTES = 256 * 1024
BATCH_ROWS = 50_000

_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
_GB_FAMILY = ("gb2312", "gbk", "gb18030", "hz", "cp936")


@dataclass
class Source:
    """One input file, ready to be scanned by DuckDB.

    ``scan`` is a SQL relation with the file's columns under their original headers, plus
    ``__line``, written by the reader as it counts: the line of a CSV or JSON-lines record, the
    sheet row of an XLSX, the 1-based row of a Parquet file, the order's position in an
    open-platform file. (Row order cannot give it: a malformed record set apart, or a quoted line
    break, would shift every line after it.) ``bad_column``, when set,
    names a column of the scan holding the reason a record is malformed: a CSV row cut off, too
    short or long, badly quoted; a JSON line cut off; sheet cells right of the last header.
    """

    path: Path
    fmt: Format
    headers: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    scan: str = ""
    encoding: str | None = None
    empty: bool = False
    #: Money units fixed by the format (the open platform always sends fen).
    units: dict[str, Literal["yuan", "fen"]] = field(default_factory=dict)
    temp_files: list[Path] = field(default_factory=list)
    #: Temporary tables of the warehouse the scan reads (a plain CSV read whole by DuckDB), and
    #: the scan that reads the file itself once they are dropped.
    temp_tables: list[str] = field(default_factory=list)
    rescan: str = ""
    bad_column: str | None = None
    #: Records the reader found malformed (already marked in ``bad_column``).
    malformed: int = 0
    #: The scan reads a Parquet file (the file itself or the reader's converted copy): reading
    #: it again, or only some of its columns, costs little.
    columnar: bool = False
    #: A plain UTF-8 CSV (``csvfile.plain_layout``) whose lines are not numbered yet: ``scan``
    #: is DuckDB's read of the file without line numbers. The loader either stages it straight
    #: from that read (:func:`stage_plain`) or numbers its lines first (:func:`number_lines`).
    plain: csvfile.PlainLayout | None = None
    #: The folder of the reader's scratch files (the line pass's normalised copy).
    scratch: Path | None = None
    #: Names this source's temporary tables apart from the batch's other files'.
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def numbered(self) -> bool:
        """Whether ``scan`` gives each row its line (``__line``)."""
        return self.plain is None

    def cleanup(self, con: Any = None) -> None:
        """Remove the reader's scratch files and, given the connection, its tables."""
        for p in self.temp_files:
            with contextlib.suppress(OSError):
                p.unlink()
        if con is not None:
            with contextlib.suppress(Exception):
                self.drop_tables(con)

    def drop_tables(self, con: Any) -> None:
        """Drop the reader's tables; the scan becomes ``rescan``, which reads the file again."""
        while self.temp_tables:
            con.execute(f"DROP TABLE IF EXISTS {quote_ident(self.temp_tables.pop())}")
        self.scan = self.rescan or self.scan


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
        f"{path.name}: unsupported file type {suffix!r}; use CSV, XLSX, Parquet or JSON lines"
    )


def open_source(con: Any, path: Path, tmp_dir: Path, limits: UnpackLimits | None = None) -> Source:
    """Inspect ``path`` (headers, types, encoding) and prepare its scan; converts when needed.

    A gzip or zip input is unpacked first and a workbook checked, within ``limits``.
    """
    if not path.is_file():
        raise SourceError(f"{path.name}: no such file")
    path, unpacked = unpack(path, tmp_dir, limits or UnpackLimits())
    fmt = detect_format(path)
    src = Source(path=path, fmt=fmt, temp_files=list(unpacked))
    if path.stat().st_size == 0:
        src.empty = True
        return src
    if fmt == "csv":
        _open_csv(con, src, tmp_dir)
    elif fmt == "parquet":
        try:
            _describe(con, src, _parquet_scan(path))
        except Exception:  # DuckDB's message names its internals, not the user's problem
            raise SourceError(
                f"{path.name}: not a readable Parquet file (cut off, or another format "
                "under a .parquet name)"
            ) from None
    elif fmt == "jsonl":
        _open_json(con, src, tmp_dir)
    elif fmt == "xlsx":
        _open_xlsx(con, src, tmp_dir)
    else:
        _open_openplatform(con, src, tmp_dir)
    if not src.headers:
        src.empty = True
    return src


def _scratch(src: Source, tmp_dir: Path, suffix: str) -> Path:
    """A temporary file for ``src``'s converted copy, unique in the batch (two files of one
    batch may share a name, from different folders)."""
    out = tmp_dir / f"{uuid.uuid4().hex}{suffix}"
    src.temp_files.append(out)
    return out


def _describe(con: Any, src: Source, scan: str) -> None:
    rows = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    src.scan = scan
    src.columnar = True
    names = [str(r[0]) for r in rows]
    if BAD in names:
        src.bad_column = BAD
    src.headers = [n for n in names if n not in (LINE, BAD)]
    src.types = {str(r[0]): str(r[1]) for r in rows if r[0] not in (LINE, BAD)}


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
    if _mostly_utf8(sample):
        return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    enc = best.encoding.lower().replace("-", "").replace("_", "") if best else ""
    if any(enc.startswith(g) for g in _GB_FAMILY) or _reads_as_chinese(sample):
        # GB18030 is a superset of GB2312 and GBK, and the encoding of Chinese back-office
        # exports: on short samples the detector may name another CJK code page instead.
        return "gb18030"
    if best is None:
        raise SourceError(f"{path.name}: cannot tell the text encoding; save it as UTF-8 or GBK")
    return best.encoding


def _mostly_utf8(sample: bytes) -> bool:
    """UTF-8 text with a few broken bytes (a damaged line), not text in another encoding.

    GBK text read as UTF-8 breaks on nearly every Chinese character; a UTF-8 file with one
    damaged line breaks on a handful of bytes. Reading it as UTF-8 quarantines just that line.
    """
    text = sample.decode("utf-8", errors="surrogateescape")
    broken = sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
    multibyte = sum(1 for ch in text if ord(ch) > 0x7F) - broken
    return multibyte > 0 and broken <= max(4, multibyte // 100)


def _reads_as_chinese(sample: bytes) -> bool:
    """Whether ``sample`` decodes as GB18030 into text with Chinese characters."""
    try:
        text = codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _open_csv(con: Any, src: Source, tmp_dir: Path) -> None:
    """Prepare a CSV's scan: for a plain UTF-8 file (``csvfile.plain_layout``), DuckDB's own read
    of it, its lines numbered later (:func:`stage_plain`, :func:`number_lines`); for any other,
    the line pass (:func:`_line_pass`).
    """
    src.encoding = detect_encoding(src.path)
    src.scratch = tmp_dir
    if src.encoding == "utf-8":
        layout = csvfile.plain_layout(src.path, unique_headers)
        if layout is not None:
            src.plain = layout
            src.headers = layout.headers
            src.types = dict.fromkeys(layout.headers, "VARCHAR")
            src.scan = csvfile.plain_scan_sql(src.path, layout, _rejects(src))
            src.rescan = csvfile.rescan_sql(src.path, layout)
            return
    _line_pass(src)


def _rejects(src: Source) -> tuple[str, str]:
    """The tables where DuckDB's read of the plain file ``src`` sets its lines apart."""
    return f"__ingest_{src.tag}_rejects", f"__ingest_{src.tag}_scans"


def _line_pass(src: Source) -> None:
    """Parse the file (``csvfile``) into a normalised UTF-8 copy that DuckDB scans.

    Malformed records (cut off, too short or long, bad quoting, undecodable bytes) stay in the
    copy with their reason in ``__bad``; the staging query turns it into their quarantine reason.
    """
    assert src.scratch is not None and src.encoding is not None
    src.plain = None
    target = _scratch(src, src.scratch, ".normalised.csv")
    try:
        layout = csvfile.normalise(src.path, src.encoding, target, unique_headers)
    except csvfile.CsvError as exc:
        raise SourceError(f"{src.path.name}: {exc}") from None
    except (LookupError, OSError) as exc:
        raise SourceError(f"{src.path.name}: cannot be read ({type(exc).__name__})") from None
    if layout is None:
        src.empty = True
        return
    src.headers = layout.headers
    src.types = dict.fromkeys(layout.headers, "VARCHAR")
    src.scan = csvfile.scan_sql(target, layout)
    src.rescan = ""
    src.bad_column = csvfile.BAD
    src.malformed = layout.malformed


def _kept_in_order(con: Any, src: Source, table: str, select: str) -> bool:
    """``csvfile.kept_in_order`` for the plain file ``src``: ``select``, a query over its
    ``scan``, into ``table`` when DuckDB's rows can be numbered by their position."""
    assert src.plain is not None
    return csvfile.kept_in_order(con, src.plain, table, select, _rejects(src))


def number_lines(con: Any, src: Source) -> None:
    """Make ``src``'s scan number its lines, if it does not yet: a plain file is read whole by
    DuckDB into a table in file order, or, when its rows cannot be numbered by their position,
    takes the line pass. Done before a batch's transaction opens, where DuckDB reads the table
    on every core."""
    if src.plain is None:
        return
    layout = src.plain
    table = f"__ingest_{src.tag}_plain"
    if not _kept_in_order(con, src, table, f"SELECT * FROM {src.scan}"):
        _line_pass(src)
        return
    src.plain = None
    src.temp_tables.append(table)
    src.scan = csvfile.numbered_sql(table, layout)


def stage_plain(con: Any, src: Source, table: str, select: str) -> str | None:
    """Stage the plain file ``src`` straight from DuckDB's read of it: ``select`` (built over
    the scan without line numbers) into the temporary ``table``, whose rows are then numbered
    by their position. The rows numbered by their line (a query over ``table``), or None: the
    file then took the line pass and nothing is kept.

    One parallel pass instead of two: the file's text is not written to a table first (10M
    orders: 28 CPU-s against 32–34 for the text table and the stage from it)."""
    layout = src.plain
    assert layout is not None
    if not _kept_in_order(con, src, table, select):
        _line_pass(src)
        return None
    src.plain = None
    src.scan = src.rescan
    return csvfile.numbered_sql(table, layout)


# -- Parquet, JSON lines -------------------------------------------------------------------------
def _parquet_scan(path: Path) -> str:
    return (
        f"(SELECT file_row_number + 1 AS {LINE}, * EXCLUDE (file_row_number) "
        f"FROM read_parquet({quote_literal(str(path))}, file_row_number = true))"
    )


def _json_text(value: Any) -> str | None:
    """A JSON value as text; numbers arrive as their own digits (see ``_JSON_NUMBERS``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


#: Numbers are kept as the text the file wrote (``12.345`` stays ``12.345``), never as floats.
_JSON_NUMBERS: dict[str, Any] = {"parse_float": str, "parse_int": str}

JsonRecord = tuple[int, dict[str, Any] | None, str | None]


def _json_records(path: Path) -> Iterator[JsonRecord]:
    """(line, object or None, reason it is malformed) for each record of a JSON file.

    JSON lines are read line by line, each parsed on its own, so a cut-off or broken line is one
    malformed record and the lines around it load. A document that is one array is read whole
    and numbered by position.
    """
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        head = fh.read(SAMPLE_BYTES).lstrip()
    if head.startswith("["):
        try:
            doc = json.loads(path.read_text(encoding="utf-8-sig"), **_JSON_NUMBERS)
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"{path.name}, line {exc.lineno}, character {exc.colno}: not valid JSON "
                "(the file may be cut off); nothing of it was loaded"
            ) from None
        except UnicodeDecodeError as exc:
            raise SourceError(f"{path.name}: not UTF-8 text at byte {exc.start}") from None
        for i, item in enumerate(doc, start=1):
            ok = isinstance(item, dict)
            yield i, item if ok else None, None if ok else "row: is not a JSON object"
        return
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            if csvfile.has_undecodable(line):
                yield number, None, "row: holds bytes that are not valid UTF-8 text"
                continue
            try:
                item = json.loads(line, **_JSON_NUMBERS)
            except json.JSONDecodeError as exc:
                where = (
                    "the file ends inside this record (a cut-off download?)"
                    if not line.endswith("\n")
                    else f"unreadable from character {exc.colno}"
                )
                yield number, None, f"row: is not a complete JSON record: {where}"
                continue
            if not isinstance(item, dict):
                yield number, None, "row: is not a JSON object"
            else:
                yield number, item, None


def _open_json(con: Any, src: Source, tmp_dir: Path) -> None:
    """JSON lines (or one array of objects) to a Parquet file of text columns.

    Two passes: the first collects every key (a key may first appear on any line), the second
    writes the rows; each value is kept as text, so a value of the wrong type is quarantined
    rather than failing the scan.
    """
    keys: dict[str, None] = {}
    for _, item, _ in _json_records(src.path):
        if item is not None:
            keys.update(dict.fromkeys(item))
    if not keys:
        src.empty = True
        return
    headers = list(keys)

    def rows() -> Iterator[tuple[int, list[str | None], str | None]]:
        for number, item, bad in _json_records(src.path):
            values = [_json_text(item.get(k)) for k in headers] if item is not None else []
            yield number, values, bad

    out = _scratch(src, tmp_dir, ".json.parquet")
    _write_text_parquet(out, headers, rows())
    _describe(con, src, f"read_parquet({quote_literal(str(out))})")


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
    out: Path,
    headers: list[str],
    rows: Iterator[tuple[int, list[str | None], str | None]],
) -> int:
    """Stream (line, values, malformed reason) rows into a Parquet file of text columns.

    Returns the row count. The reason goes to the ``__bad`` column (NULL for a good row).
    """
    schema = pa.schema(
        [(LINE, pa.int64()), (BAD, pa.string()), *[(h, pa.string()) for h in headers]]
    )
    n = 0
    with pq.ParquetWriter(out, schema) as writer:
        batch: list[tuple[int, list[str | None], str | None]] = []

        def flush() -> None:
            cols = [pa.array([b[0] for b in batch], pa.int64())]
            cols.append(pa.array([b[2] for b in batch], pa.string()))
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
    except Exception:  # openpyxl's message names zip internals
        raise SourceError(
            f"{src.path.name}: not a readable Excel workbook (.xlsx): the file may be cut off, "
            "password-protected or an older .xls saved under a new name"
        ) from None
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

        width = len(headers)

        def data() -> Iterator[tuple[int, list[str | None], str | None]]:
            for line, row in enumerate(rows, start=header_line + 1):
                values = [cell_text(c) for c in row]
                if any(v is not None and v.strip() for v in values):
                    extra = [v for v in values[width:] if v is not None and v.strip()]
                    bad = (
                        f"row: has values right of the last named column ({', '.join(map(repr, extra))})"
                        if extra
                        else None
                    )
                    yield line, values, bad

        out = _scratch(src, tmp_dir, ".xlsx.parquet")
        try:
            _write_text_parquet(out, headers, data())
        except Exception:  # a sheet that opened but breaks while read (a cut-off file)
            raise SourceError(
                f"{src.path.name}: the sheet cannot be read to its end (the file may be cut off)"
            ) from None
    finally:
        wb.close()
    _describe(con, src, f"read_parquet({quote_literal(str(out))})")


# -- 快手小店 open-platform order JSON ----------------------------------------------------------
def _open_openplatform(con: Any, src: Source, tmp_dir: Path) -> None:
    out = _scratch(src, tmp_dir, ".orders.parquet")
    try:
        records = openplatform.iter_orders(src.path)
        rows = ((i, row) for i, row in openplatform.to_rows(records))
        headers = list(openplatform.COLUMNS)
        _write_text_parquet(
            out, headers, ((i, [row.get(h) for h in headers], None) for i, row in rows)
        )
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{src.path.name}, line {exc.lineno}, character {exc.colno}: not valid JSON "
            "(the file may be cut off); nothing of it was loaded"
        ) from None
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{src.path.name}: not UTF-8 text at byte {exc.start}; open-platform JSON is UTF-8"
        ) from None
    src.units = dict.fromkeys(openplatform.MONEY_COLUMNS, "fen")
    _describe(con, src, f"read_parquet({quote_literal(str(out))})")


__all__ = [
    "LINE",
    "Source",
    "SourceError",
    "UnpackLimits",
    "check_zip",
    "detect_format",
    "number_lines",
    "open_source",
    "quote_ident",
    "stage_plain",
    "unpack",
]
