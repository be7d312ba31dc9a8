"""Reading a CSV export record by record, so that one malformed row never refuses the whole file.

A download cut off in its last row, a row with a cell too few or too many, a stray quote: each
is one bad row, quarantined with its line and the reason in words, while every complete row
lands. Python's ``csv`` module parses the file here, and DuckDB then reads the file this module
writes, never the user's. Why not DuckDB's own reader with ``store_rejects`` / ``ignore_errors``
/ ``null_padding``:

- its sniffer decides the dialect from a sample; on a ragged sample it either fails with a
  dump of its search space (even with the delimiter and quote given) or settles on a
  one-column dialect, after which every header looks missing ("needs column(s) order_id …");
- the rows it keeps carry no line number: the loader derived it from row order ("row + 2"),
  which is wrong after the first skipped row or a quoted line break; and its reject table
  reports one engine message per missing column ("Expected Number of Columns: 10 Found: 2");
- ``null_padding`` silently accepts a cut-off row, padded with missing values.

Here every physical line is counted as it is read, so a record knows exactly the line it starts
on, quoted line breaks included; ``strict`` parsing refuses a quote followed by text; a quote
that is never closed costs one line (its record is re-read from the next line), not the rest of
the file. The normalised copy is UTF-8 (GBK and other encodings are decoded on the way),
RFC-quoted by ``csv.writer`` or copied verbatim when a line holds no quote at all, and carries
two columns in front: ``__line`` and ``__bad``, the reason a record is malformed (empty for a
good one). Bad records stay in the copy with the values they have, so they reach the quarantine
file through the same staging query as every other rejected row, in line order.

**A plain file skips the line pass** (:func:`kept_in_order`). A UTF-8 file with no quote and
no lone carriage return, whose header names every cell, is read by DuckDB itself, in parallel,
with the dialect given (no sniffing), into a table in file order: the file's text, or straight
into the loader's stage. The line pass took 11 s of a 35 s import of 10M rows. The objections
above do not hold for it: DuckDB's rows are kept only when DuckDB set no line apart and
counted exactly one row per physical line after the header, so a row's line is its position
plus the header's lines; otherwise they are dropped and the file takes the line pass, which
finds and words the malformed records.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain, islice, repeat
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from windmaker.ingest.coercion import quote_literal

LINE = "__line"
BAD = "__bad"

#: Delimiters a header line may use, the usual first.
DELIMITERS = (",", "\t", ";", "|")
#: Longest record accepted, in characters; also bounds how far an unclosed quote can reach.
MAX_RECORD_CHARS = 1_000_000
#: Longest value copied into the quarantine file for a malformed record.
QUOTED_VALUE_CHARS = 2_000
#: DuckDB's limit on one line of the normalised copy, in bytes: quoting may double a record's
#: characters, and UTF-8 takes up to 4 bytes for one.
MAX_LINE_BYTES = 8 * MAX_RECORD_CHARS + 64 * 1024
#: DuckDB's read buffer for the copy, per thread. Its default is 16 lines of the longest, which
#: for the limit above made 123 MiB blocks: two threads' buffers alone broke a 256 MB
#: ``memory_limit``. Four lines keep the longest record readable, the scan as fast (10M rows:
#: the same stage time within noise), and a 875 MiB file loads under a 256 MB limit.
CSV_BUFFER_BYTES = 4 * MAX_LINE_BYTES
_BUFFER_LINES = 8_192
_END_OF_DATA = "a quoted value is not closed before the end of the data"


class CsvError(ValueError):
    """The file cannot be read as a table at all (no header, unreadable header)."""


@dataclass(frozen=True)
class CsvLayout:
    """What the normalised copy holds: the file's unique headers, its delimiter, its records."""

    headers: list[str]
    delimiter: str
    records: int
    malformed: int


@dataclass(frozen=True)
class PlainLayout(CsvLayout):
    """A plain file's layout (:func:`plain_layout`): ``header_lines`` physical lines up to and
    including the header, then one record per line."""

    header_lines: int = 1


def sniff_delimiter(header_line: str, suffix: str) -> str:
    """The delimiter of a file, from its header line: the candidate it holds most often.

    The header alone decides, because it is the one line whose shape is known (every column
    named once); ``.tsv`` files prefer tabs on a tie.
    """
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == "\t" and suffix == ".tsv"))
    return best if counts[best] else ("\t" if suffix == ".tsv" else ",")


def _strip_eol(line: str) -> str:
    # Lines are read with newline="", so each ends in at most one of "\r\n", "\n", "\r".
    return line.rstrip("\r\n")


def _shown(value: str) -> str:
    """A value as the quarantine file shows it: bounded, undecodable bytes as U+FFFD."""
    if len(value) > QUOTED_VALUE_CHARS:
        value = value[:QUOTED_VALUE_CHARS] + "…"
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def has_undecodable(text: str) -> bool:
    """Whether ``text`` (decoded with ``surrogateescape``) holds bytes its encoding rejected."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class _Normaliser:
    """One pass over the file: good records to the copy, bad ones with their reason."""

    def __init__(
        self,
        fh: TextIO,
        out: TextIO,
        encoding: str,
        suffix: str,
        name_headers: Callable[[list[str]], list[str]],
    ) -> None:
        self.name_headers = name_headers
        self.fh = fh
        self.lines: Iterator[str] = iter(fh)
        self.out = out
        self.encoding = encoding
        self.suffix = suffix
        self.number = 0  # physical lines taken from the file so far
        self.records = 0
        self.malformed = 0
        self.width = 0
        self.header_cells = 0
        self.headers: list[str] = []
        self.delimiter = ","
        self.buffer: list[str] = []
        self.writer: Callable[[list[str]], object] | None = None
        #: Lines taken from the file but given back, to be read again (after an unclosed quote).
        self.pending: deque[tuple[int, str]] = deque()

    # -- the header ------------------------------------------------------------------------
    def header(self) -> list[str] | None:
        """The header's column names; None when the file holds no header at all."""
        for line in self.lines:
            self.number += 1
            if line.strip():
                break
        else:
            return None
        if has_undecodable(line):
            raise CsvError(
                f"line {self.number} (the header) is not valid {self.encoding} text; "
                "save the file as UTF-8 or GBK"
            )
        self.delimiter = sniff_delimiter(line, self.suffix)
        first = self.number
        record, consumed, error = self._parse(first, line)
        if record is None:
            raise CsvError(f"line {first} (the header) cannot be read: {error}")
        self.number = consumed[-1][0] if consumed else first
        cells = [c.strip() for c in record]
        self.header_cells = len(cells)
        while cells and not cells[-1]:  # unnamed trailing columns hold nothing to keep
            cells.pop()
        if not cells:
            return None
        self.headers = self.name_headers(cells)
        self.width = len(cells)
        self.writer = csv.writer(self, delimiter=self.delimiter, lineterminator="\n").writerow
        return self.headers

    # -- the body ---------------------------------------------------------------------------
    def run(self) -> None:
        """Every record after the header, to the copy.

        Lines are taken in blocks. In a block without quotes every line is a record of its
        own: its common lines (the right number of delimiters, not too long) are found by C
        loops over the block and copied with their line numbers in one go, and only the others
        go through the csv module (6.3M lines took 10 s one by one). A block with a quote, a
        carriage return or undecodable text is read line by line, and a record that runs past
        it takes the lines it needs from the file.
        """
        file_lines = self.lines
        while block := list(islice(file_lines, _BUFFER_LINES)):
            uncommon = self._uncommon(block)
            if uncommon is None:
                rest = iter(block)
                self.lines = chain(rest, file_lines)
                self._lines(rest)
                self.lines = file_lines
                continue
            start = 0
            for i in [*uncommon, len(block)]:
                if i > start:
                    self._copy(block[start:i])
                if i < len(block):
                    self.number += 1
                    self._careful(self.number, block[i])  # one line: it holds no quote
                start = i + 1
            self.flush()
        self.flush()

    def _uncommon(self, block: list[str]) -> list[int] | None:
        """The positions of the lines of a quote-free ``block`` that are not common ones (a
        wrong number of delimiters, blank, too long); None when the block must be read line by
        line."""
        seps = self.width - 1
        text = "".join(block)
        if seps == 0 or '"' in text or "\r" in text or has_undecodable(text):
            return None
        counts = list(map(str.count, block, repeat(self.delimiter)))
        longest = max(map(len, block))
        if counts.count(seps) == len(block) and longest <= MAX_RECORD_CHARS:
            return []
        wrong = np.asarray(counts) != seps
        if longest > MAX_RECORD_CHARS:
            wrong |= np.fromiter(map(len, block), np.int64, len(block)) > MAX_RECORD_CHARS
        return np.flatnonzero(wrong).tolist()

    def _copy(self, lines: list[str]) -> None:
        """Common lines, each a whole record ending in ``\n`` (but the file's last), to the copy."""
        if not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        first = self.number + 1
        self.number += len(lines)
        self.records += len(lines)
        fmt = "{}" + self.delimiter * 2 + "{}"
        self.buffer.append("".join(map(fmt.format, range(first, self.number + 1), lines)))

    def _lines(self, lines: Iterator[str]) -> None:
        """The records starting on ``lines``, one line at a time."""
        d, seps = self.delimiter, self.width - 1
        emit = self.buffer.append
        for line in lines:
            self.number += 1
            # The common line: no quote, the right number of cells, text that decoded. Copied
            # as it is (a line without quotes reads the same in every CSV reader).
            if '"' not in line and line.count(d) == seps and len(line) <= MAX_RECORD_CHARS:
                text = _strip_eol(line)
                if text and not has_undecodable(text):
                    emit(f"{self.number}{d}{d}{text}\n")
                    self.records += 1
                    if len(self.buffer) >= _BUFFER_LINES:
                        self.flush()
                    continue
            self._careful(self.number, line)
            while self.pending:
                self._careful(*self.pending.popleft())

    def _careful(self, first: int, line: str) -> None:
        """One record starting at physical line ``first``, through the csv module."""
        if not line.strip():
            return  # a blank line holds no record
        if len(line) > MAX_RECORD_CHARS:
            self._bad(first, [line], f"is longer than {MAX_RECORD_CHARS:,} characters")
            return
        if has_undecodable(line):
            self._undecodable(first, line)
            return
        record, consumed, error = self._parse(first, line)
        if any(has_undecodable(text) for _, text in consumed[1:]):
            # A quoted line break led into a broken line: this line first, the rest again.
            for item in reversed(consumed[1:]):
                self.pending.appendleft(item)
            record, consumed = None, consumed[:1]
            error = "a quoted value opened on this line runs into undecodable text"
        if record is not None and self._fits(record):
            self._good(first, record[: self.width])
            return
        # Only the file's last line lacks a line ending.
        last = not line.endswith(("\n", "\r"))
        if len(consumed) > 1:
            # A quote opened here closes lines later, or never, and the record it makes does not
            # fit: this line is the bad one; the lines after it are given back to be read again.
            for item in reversed(consumed[1:]):
                self.pending.appendleft(item)
            self._bad(
                first,
                self._lenient(line),
                f"cannot be read as CSV{self._quote_column(line)}: a quoted value opened "
                "on this line is not closed on it",
            )
            return
        if record is None:
            if error == _END_OF_DATA:
                error = "the file ends inside a quoted value of this row (a cut-off download?)"
            self._bad(
                first,
                self._lenient(line),
                f"cannot be read as CSV{self._quote_column(line)}: {error}",
            )
            return
        n = len(record)
        if n < self.width:
            reason = f"has {n} of {self.width} values ({self.headers[n]} onward missing)"
            if last:
                reason += "; the file ends inside this row (a cut-off download?)"
        else:
            extra = ", ".join(repr(_shown(v)) for v in record[self.width :] if v.strip())
            reason = f"has {n} values for {self.width} columns (the extra: {extra})"
        self._bad(first, record, reason)

    def _undecodable(self, first: int, line: str) -> None:
        self._bad(
            first,
            self._lenient(line),
            f"holds bytes that are not valid {self.encoding} text "
            "(the file may be cut off there, or saved in another encoding)",
        )

    def _quote_column(self, line: str) -> str:
        """`` (column X)``: the column where a malformed line's quoting goes wrong, if found.

        The line cannot be parsed (that is the problem), so it is walked cell by cell on the
        delimiter: a well-formed quoted cell (even a delimiter inside) is passed over; the first
        quoted cell that never closes properly is the culprit.
        """
        pieces = _strip_eol(line).split(self.delimiter)
        column, i = 0, 0
        while i < len(pieces) and column < self.width:
            cell = pieces[i]
            if cell.startswith('"'):
                while not _closed_quote(cell) and i + 1 < len(pieces):
                    i += 1
                    cell += self.delimiter + pieces[i]
                if not _closed_quote(cell):
                    return f" (column {self.headers[column]})"
            column += 1
            i += 1
        return ""

    def _parse(
        self, first: int, line: str
    ) -> tuple[list[str] | None, list[tuple[int, str]], str | None]:
        """The record starting with ``line``: (cells or None, lines it used, error in words)."""
        consumed: list[tuple[int, str]] = [(first, line)]

        def feed() -> Iterator[str]:
            yield line
            size = len(line)
            while size <= MAX_RECORD_CHARS:
                if self.pending:
                    item = self.pending.popleft()
                else:
                    nxt = next(self.lines, None)
                    if nxt is None:
                        return
                    self.number += 1
                    item = (self.number, nxt)
                consumed.append(item)
                size += len(item[1])
                yield item[1]

        reader = csv.reader(feed(), delimiter=self.delimiter, strict=True)
        try:
            return next(reader), consumed, None
        except StopIteration:  # pragma: no cover - the feed always yields the first line
            return None, consumed, _END_OF_DATA
        except csv.Error as exc:
            return None, consumed, _csv_error_words(str(exc))

    def _fits(self, record: list[str]) -> bool:
        """The right number of cells; cells past the header's width are fine when blank."""
        return len(record) == self.width or (
            len(record) > self.width and not any(v.strip() for v in record[self.width :])
        )

    def _lenient(self, line: str) -> list[str]:
        """A malformed line's cells, as best they can be told, for the quarantine file."""
        try:
            return next(csv.reader([_strip_eol(line)], delimiter=self.delimiter), [])
        except csv.Error:
            return [_strip_eol(line)]

    def _good(self, first: int, record: list[str]) -> None:
        assert self.writer is not None
        self.records += 1
        self.writer([str(first), "", *record])

    def _bad(self, first: int, cells: list[str], reason: str) -> None:
        assert self.writer is not None
        self.records += 1
        self.malformed += 1
        values = [_shown(c) for c in cells[: self.width]]
        values += [""] * (self.width - len(values))
        self.writer([str(first), f"row: {reason}", *values])

    # -- output -------------------------------------------------------------------------------
    def write(self, text: str) -> None:
        """``csv.writer``'s target: rows join the buffer, so the copy keeps the file's order."""
        self.buffer.append(text)

    def flush(self) -> None:
        if self.buffer:
            self.out.write("".join(self.buffer))
            self.buffer.clear()


def _closed_quote(cell: str) -> bool:
    """Whether ``cell`` is one well-formed quoted value: ``"..."`` with inner quotes doubled."""
    return (
        len(cell) >= 2
        and cell.startswith('"')
        and cell.endswith('"')
        and '"' not in cell[1:-1].replace('""', "")
    )


def _csv_error_words(message: str) -> str:
    """The csv module's complaint, in words a user can act on."""
    if "expected after" in message:
        return "a quoted value is followed by text before the next delimiter (bad quoting)"
    if "field larger than field limit" in message:
        return f"a value is longer than {csv.field_size_limit():,} characters (an unclosed quote?)"
    if "unexpected end of data" in message:
        return _END_OF_DATA
    if "NUL" in message:
        return "the row holds a NUL character (binary data)"
    return "malformed row"


def normalise(
    path: Path, encoding: str, out: Path, name_headers: Callable[[list[str]], list[str]]
) -> CsvLayout | None:
    """Rewrite the CSV ``path`` (in ``encoding``) as the normalised copy ``out``.

    ``name_headers`` makes the header cells unique column names (blank, repeated).
    Returns None when the file holds no header (empty, blank). Raises :class:`CsvError` when the
    header itself cannot be read; every other problem is one malformed record.
    """
    enc = "utf-8-sig" if encoding == "utf-8" else encoding
    with (
        path.open("r", encoding=enc, errors="surrogateescape", newline="") as fh,
        out.open("w", encoding="utf-8", newline="") as fout,
    ):
        work = _Normaliser(fh, fout, encoding, path.suffix.lower(), name_headers)
        if work.header() is None:
            return None
        work.run()
    return CsvLayout(
        headers=work.headers,
        delimiter=work.delimiter,
        records=work.records,
        malformed=work.malformed,
    )


#: Bytes the plain-file check reads at a time.
_CHUNK_BYTES = 1 << 24


def plain_layout(path: Path, name_headers: Callable[[list[str]], list[str]]) -> PlainLayout | None:
    """The layout of the UTF-8 file ``path`` when each of its lines after the header can be
    read as one record as it stands: no quote and no carriage return but before a line feed
    anywhere, and a header that names every cell. None when the file needs the line pass.

    ``records`` counts the physical lines after the header: the rows DuckDB must return.
    """
    lines = crlf = 0
    last = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK_BYTES):
            if b'"' in chunk or (last == b"\r" and chunk[:1] != b"\n"):
                return None
            if b"\r" in chunk:  # (counting pairs is the slow part: only where there are some)
                pairs = chunk.count(b"\r\n")
                if chunk.count(b"\r") > pairs + (chunk[-1:] == b"\r"):
                    return None  # a carriage return that ends no line
                crlf += pairs
            lines += chunk.count(b"\n")
            crlf += last == b"\r"
            last = chunk[-1:]
    if last == b"\r" or crlf not in (0, lines):
        return None  # a carriage return at the very end, or line ends of two kinds
    physical = lines + (last not in (b"\n", b""))
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        work = _Normaliser(fh, io.StringIO(), "utf-8", path.suffix.lower(), name_headers)
        if work.header() is None or work.header_cells != work.width:
            return None
    return PlainLayout(
        headers=work.headers,
        delimiter=work.delimiter,
        records=physical - work.number,
        malformed=0,
        header_lines=work.number,
    )


def plain_scan_sql(path: Path, layout: PlainLayout, rejects: tuple[str, str] | None = None) -> str:
    """DuckDB's scan of the plain file ``path`` after its header, every column text; the
    lines it sets apart (a cell too few or too many, text that is not UTF-8, a line longer than
    :data:`MAX_RECORD_CHARS` bytes) go to the tables ``rejects`` (errors, scans), or fail it."""
    spec = "{" + ", ".join(f"{quote_literal(h)}: 'VARCHAR'" for h in layout.headers) + "}"
    kept = (
        f", store_rejects = true, rejects_table = {quote_literal(rejects[0])}, "
        f"rejects_scan = {quote_literal(rejects[1])}"
        if rejects
        else ""
    )
    return (
        f"read_csv({quote_literal(str(path))}, header = false, auto_detect = false, "
        f"skip = {layout.header_lines}, delim = {quote_literal(layout.delimiter)}, "
        f"quote = '\"', escape = '\"', columns = {spec}, strict_mode = true, "
        f"max_line_size = {MAX_RECORD_CHARS}{kept})"
    )


def numbered_sql(table: str, layout: PlainLayout) -> str:
    """The rows of ``table``, made by :func:`kept_in_order`, each numbered by its line."""
    return f"(SELECT rowid + {layout.header_lines + 1} AS {LINE}, * FROM {table})"


def rescan_sql(path: Path, layout: PlainLayout) -> str:
    """The plain file ``path`` read again, each row numbered by its line.

    DuckDB returned one row per line, in order (:func:`kept_in_order`): numbering the rows as
    they stream gives the same lines, on one thread. Read only for the few rows the stage does
    not hold (a repeated key's original values).
    """
    return (
        f"(SELECT row_number() OVER () + {layout.header_lines} AS {LINE}, * "
        f"FROM {plain_scan_sql(path, layout)})"
    )


def kept_in_order(
    con: Any, layout: PlainLayout, table: str, select: str, rejects: tuple[str, str]
) -> bool:
    """Create the temporary ``table`` as ``select``, a query over DuckDB's scan of a plain file
    (:func:`plain_scan_sql` with ``rejects``), its rows in file order.

    True when DuckDB set no line apart and returned exactly one row per line after the header:
    only then is a row's position its line (:func:`numbered_sql`). Otherwise False, keeping
    nothing: the file takes the line pass, which finds and words the malformed records.
    """
    order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    try:
        con.execute("SET preserve_insertion_order = true")  # rowid follows the file
        con.execute(f"CREATE TEMP TABLE {table} AS {select}")
        counted = con.execute(
            f"SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM {rejects[0]})"
        ).fetchone()
    except Exception:  # whatever DuckDB could not read, the line pass reads and words
        counted = None
    finally:
        con.execute(f"SET preserve_insertion_order = {order}")
        for name in rejects:
            con.execute(f"DROP TABLE IF EXISTS {name}")
    if counted != (layout.records, 0):
        con.execute(f"DROP TABLE IF EXISTS {table}")
        return False
    return True


def scan_sql(out: Path, layout: CsvLayout) -> str:
    """DuckDB's scan of the normalised copy: no sniffing, every column named and typed."""
    columns = {LINE: "BIGINT", BAD: "VARCHAR", **dict.fromkeys(layout.headers, "VARCHAR")}
    spec = (
        "{" + ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in columns.items()) + "}"
    )
    return (
        f"read_csv({quote_literal(str(out))}, header = false, auto_detect = false, "
        f"delim = {quote_literal(layout.delimiter)}, quote = '\"', escape = '\"', "
        f"columns = {spec}, max_line_size = {MAX_LINE_BYTES}, buffer_size = {CSV_BUFFER_BYTES})"
    )


__all__ = [
    "BAD",
    "LINE",
    "CsvError",
    "CsvLayout",
    "PlainLayout",
    "kept_in_order",
    "normalise",
    "numbered_sql",
    "plain_layout",
    "plain_scan_sql",
    "rescan_sql",
    "scan_sql",
    "sniff_delimiter",
]
