"""Type coercion as DuckDB SQL: from a file's raw value to the contract's stored type.

Every function returns SQL text over one source expression, so the whole file is typed in one
vectorised scan instead of row by row in Python. A value that cannot be typed becomes NULL here;
``validation`` turns "raw value present, typed value NULL" into a quarantine reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, NamedTuple

from windmaker import contract

MoneyUnit = Literal["yuan", "fen"]

#: Text formats tried, in order, after DuckDB's own ISO cast (which also reads ``2026/10/01``).
TIMESTAMP_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m-%d %H:%M",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日",
)

#: Characters users put around money: thousands separators, currency signs, the unit word.
_MONEY_NOISE = r"[,，¥￥元\s]"

_TEXT_TYPES = ("VARCHAR",)
_INT_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)


def quote_ident(name: str) -> str:
    """``name`` as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def clean_text(expr: str) -> str:
    """Trimmed text, empty → NULL: spreadsheets pad IDs with tabs and blanks mean missing.

    Trimming is done only for values that start or end with a blank: a general trim costs more
    than typing the value, and almost no value needs it. The blanks are found with ``LIKE``
    patterns, which DuckDB matches faster than the same tests as ``starts_with`` and
    ``ends_with`` (six text columns of 10M rows: 0.71 s against 1.01 s; the same values).
    """
    v = expr
    return (
        f"CASE WHEN {v} = '' OR {v} LIKE ' %' OR {v} LIKE '% ' OR {v} LIKE chr(9) || '%' "
        f"OR {v} LIKE '%' || chr(9) OR {v} LIKE '%' || chr(13) "
        f"THEN NULLIF(trim({v}, ' \t\r\n'), '') ELSE {v} END"
    )


def is_text(source_type: str) -> bool:
    return source_type.upper() in _TEXT_TYPES


def _is_int(source_type: str) -> bool:
    return source_type.upper() in _INT_TYPES


def integer_sql(v: str) -> str:
    """A whole number from text; ``12.0`` is accepted, ``12.5`` is not (it is not rounded)."""
    as_double = f"TRY_CAST({v} AS DOUBLE)"
    return (
        f"CASE WHEN contains({v}, '.') OR contains(lower({v}), 'e') "
        f"THEN CASE WHEN {as_double} = trunc({as_double}) AND abs({as_double}) < 9e15 "
        f"THEN CAST({as_double} AS BIGINT) END "
        f"ELSE TRY_CAST({v} AS BIGINT) END"
    )


def money_sql(v: str, unit: MoneyUnit) -> str:
    """DECIMAL(18,2) yuan from text in ``unit``: ``1,234.50`` / ``¥12`` yuan, or whole fen.

    Fen → yuan is ``fen × 0.01`` in decimal arithmetic, exact to the cent; a fraction of a fen
    gives NULL (it is not rounded). Yuan with digits past the cent are cast here as DuckDB casts
    them (rounded): :func:`money_fraction_sql` tells them apart, and the row is refused.
    """
    if unit == "fen":
        cleaned = f"regexp_replace({v}, '{_MONEY_NOISE}', '', 'g')"
        return _fen_to_yuan(integer_sql(cleaned))
    return (
        f"COALESCE(TRY_CAST({v} AS DECIMAL(18,2)), "
        f"TRY_CAST(regexp_replace({v}, '{_MONEY_NOISE}', '', 'g') AS DECIMAL(18,2)))"
    )


def _fen_to_yuan(fen: str) -> str:
    # TRY_CAST: a whole number past DECIMAL(18,0) is out of range, not an engine error.
    return f"TRY_CAST(TRY_CAST(({fen}) AS DECIMAL(18,0)) * 0.01 AS DECIMAL(18,2))"


def money_fraction_sql(v: str) -> str:
    """True when the text ``v`` is an amount in yuan with a non-zero digit past the cent.

    ``12.345`` and ``¥1,234.567`` are; ``12.3``, ``12.30`` and ``12.3400`` are not (trailing
    zeros lose nothing). Plain decimals are judged on their digits, exactly; the rare exponent
    form (``1.2345e3``) by comparing its value at 18 decimals with its value at 2.
    """
    exact = f"TRY_CAST({v} AS DECIMAL(38,18))"
    # The pattern is tried only on a value with over two characters after a point (most
    # amounts have exactly two): on 19M amounts the check took 1.5 s, matching every one. Any
    # value the pattern matches passes that filter, so the filter changes no answer; as one
    # LIKE it costs less than finding the point and counting characters (three amounts of
    # 10M rows: 0.68 s against 0.94 s).
    return (
        f"coalesce(CASE WHEN contains({v}, 'e') OR contains({v}, 'E') "
        f"THEN {exact} <> TRY_CAST({exact} AS DECIMAL(38,2)) "
        f"WHEN {v} LIKE '%.___%' "
        f"THEN regexp_matches({v}, '[.][0-9]{{2}}0*[1-9]') END, false)"
    )


def _typed_money_fraction(src: str, st: str) -> str | None:
    """True when a typed (Parquet) amount in yuan has a non-zero digit past the cent."""
    scale = re.fullmatch(r"DECIMAL\(\d+,\s*(\d+)\)", st)
    if scale is not None:
        return None if int(scale.group(1)) <= 2 else f"({src} <> TRY_CAST({src} AS DECIMAL(38,2)))"
    if st in ("DOUBLE", "FLOAT"):
        # A binary float is never exactly 39.90; it is within rounding noise of whole fen, and
        # 12.345 is half a fen away. The tolerance grows with the amount (relative 1e-12).
        fen = f"(CAST({src} AS DOUBLE) * 100)"
        return f"coalesce(abs({fen} - round({fen})) > greatest(1e-6, abs({fen}) * 1e-12), false)"
    return None


def _to_wall_clock(naive_ts: str, timezone: str) -> str:
    """A naive timestamp read on ``timezone``'s clock, as the Asia/Shanghai wall clock."""
    if timezone == contract.TIMEZONE:
        return naive_ts
    return f"timezone('{contract.TIMEZONE}', timezone({quote_literal(timezone)}, {naive_ts}))"


def _from_epoch_utc(micros: str) -> str:
    """Epoch microseconds (UTC) as the Asia/Shanghai wall clock."""
    return f"timezone('{contract.TIMEZONE}', timezone('UTC', make_timestamp({micros})))"


def timestamp_sql(v: str, timezone: str) -> str:
    """A naive Asia/Shanghai TIMESTAMP from text.

    Accepted: ISO (``2026-10-01 12:00:00``, ``T`` separator, fractions), ``2026/10/01 12:00:00``,
    dates alone, the formats of :data:`TIMESTAMP_FORMATS`, epoch seconds (9–10 digits) or
    milliseconds (12–13 digits), and any of those with an offset (``Z``, ``+08:00``), which is
    converted. Values without an offset are read on ``timezone``'s clock.
    """
    fmts = ", ".join(quote_literal(f) for f in TIMESTAMP_FORMATS)
    naive = _to_wall_clock(
        f"COALESCE(TRY_CAST({v} AS TIMESTAMP), TRY_STRPTIME({v}, [{fmts}]))", timezone
    )
    # The fast path covers the common 19- and 10-character forms, which cannot carry an offset;
    # DuckDB's plain cast silently drops an offset, so every other length is checked for one.
    fast = f"CASE WHEN length({v}) IN (10, 19) AND NOT contains({v}, '+') THEN {naive} END"
    slow = (
        f"CASE WHEN regexp_full_match({v}, '[0-9]{{12,13}}') "
        f"THEN {_from_epoch_utc(f'TRY_CAST({v} AS BIGINT) * 1000')} "
        f"WHEN regexp_full_match({v}, '[0-9]{{9,10}}') "
        f"THEN {_from_epoch_utc(f'TRY_CAST({v} AS BIGINT) * 1000000')} "
        f"WHEN regexp_matches({v}, '(Z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$') "
        f"THEN timezone('{contract.TIMEZONE}', TRY_CAST({v} AS TIMESTAMPTZ)) "
        f"ELSE {naive} END"
    )
    return f"COALESCE({fast}, {slow})"


def codes_sql(v: str, codes: Mapping[str, str]) -> str:
    """The canonical code of a user's word (case-insensitive); NULL when the word is unknown.

    A map lookup, not a ``CASE`` of one branch per word: DuckDB evaluates it once per distinct
    value of a dictionary-encoded column, as a Parquet file's code columns are (10M rows, two
    such columns: 0.03 s against 0.24 s a column), and as fast as the ``CASE`` elsewhere.
    """
    by_word: dict[str, str] = {}
    for word, code in codes.items():
        by_word.setdefault(word.strip().lower(), code)
    pairs = ", ".join(f"{quote_literal(w)}: {quote_literal(c)}" for w, c in by_word.items() if w)
    return f"MAP {{{pairs}}}[lower({v})]"


class Typed(NamedTuple):
    """SQL for one contract column read from a file's column.

    ``raw`` is the cleaned raw value (NULL when blank), ``typed`` the value in the contract's
    type (NULL when it cannot be typed), ``fraction`` (money in yuan only) true when the amount
    has digits past the cent: ``typed`` is then rounded and the row must be refused.
    """

    raw: str
    typed: str
    fraction: str | None = None


def typed_sql(
    col: contract.Column,
    src: str,
    source_type: str,
    *,
    unit: MoneyUnit,
    timezone: str,
) -> Typed:
    """The :class:`Typed` SQL for contract column ``col`` read from ``src``.

    ``source_type`` is the DuckDB type of the source column: text goes through the parsers
    above; typed columns (Parquet, XLSX numbers) are converted directly, which is what keeps a
    Parquet load close to DuckDB's own speed.
    """
    st = source_type.upper()
    if not is_text(st):
        typed = _typed_from_typed(col, src, st, unit=unit, timezone=timezone)
        if typed is not None:
            fraction = (
                _typed_money_fraction(src, st) if col.dtype == "money" and unit == "yuan" else None
            )
            return Typed(f"{src}", typed, fraction)
        v = clean_text(f"CAST({src} AS VARCHAR)")
    else:
        v = clean_text(src)
    fraction = money_fraction_sql(v) if col.dtype == "money" and unit == "yuan" else None
    return Typed(v, _typed_from_text(col, v, unit=unit, timezone=timezone), fraction)


def _typed_from_text(col: contract.Column, v: str, *, unit: MoneyUnit, timezone: str) -> str:
    if col.dtype == "string":
        return codes_sql(v, col.codes) if col.codes else v
    if col.dtype == "int":
        return integer_sql(v)
    if col.dtype == "float":
        return f"TRY_CAST({v} AS DOUBLE)"
    if col.dtype == "money":
        return money_sql(v, unit)
    if col.dtype == "timestamp":
        return timestamp_sql(v, timezone)
    if col.dtype == "date":
        return f"CAST({timestamp_sql(v, timezone)} AS DATE)"
    if col.dtype == "bool":
        return f"CAST({codes_sql(v, col.codes or contract._BOOL_WORDS)} AS BOOLEAN)"
    raise ValueError(f"no coercion for type {col.dtype}")  # pragma: no cover


def _typed_from_typed(
    col: contract.Column, src: str, st: str, *, unit: MoneyUnit, timezone: str
) -> str | None:
    """Direct conversion of an already-typed source column; None to go through text instead."""
    if col.dtype == "string" and not col.codes:
        return f"CAST({src} AS VARCHAR)"
    if col.dtype == "int" and _is_int(st):
        return f"TRY_CAST({src} AS BIGINT)"
    if col.dtype == "float" and (_is_int(st) or st.startswith(("DOUBLE", "FLOAT", "DECIMAL"))):
        return f"CAST({src} AS DOUBLE)"
    if col.dtype == "money":
        if unit == "fen" and _is_int(st):
            return _fen_to_yuan(src)
        if unit == "yuan" and (_is_int(st) or st.startswith("DECIMAL")):
            return f"TRY_CAST({src} AS DECIMAL(18,2))"
        if unit == "yuan" and st in ("DOUBLE", "FLOAT"):
            return f"TRY_CAST(round({src}, 2) AS DECIMAL(18,2))"
        return None
    if col.dtype in ("timestamp", "date"):
        if st.startswith("TIMESTAMP WITH TIME ZONE"):
            ts = f"timezone('{contract.TIMEZONE}', {src})"
        elif st.startswith("TIMESTAMP"):
            ts = _to_wall_clock(f"CAST({src} AS TIMESTAMP)", timezone)
        elif st == "DATE":
            ts = f"CAST({src} AS TIMESTAMP)"
        else:
            return None
        return ts if col.dtype == "timestamp" else f"CAST({ts} AS DATE)"
    if col.dtype == "bool" and st == "BOOLEAN":
        return src
    return None
