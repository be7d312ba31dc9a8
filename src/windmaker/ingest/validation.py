"""Validation of every contract rule, as one DuckDB SELECT over a file's scan.

The staging query types each contract column (``coercion``) and computes ``__reason``: every
failing rule of the row, one clear sentence each, joined with ``; `` — required values, types,
allowed codes, minimum/maximum, row checks, and foreign keys against the warehouse (which, inside
the batch's transaction, already holds the batch's earlier tables). Key uniqueness needs the
whole file and is checked afterwards by the loader (:func:`duplicate_reason_sql`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from windmaker import contract
from windmaker.contract_headers import header_unit
from windmaker.ingest.coercion import MoneyUnit, quote_ident, quote_literal, typed_sql
from windmaker.ingest.sources import LINE, Source

REASON = "__reason"
RAW_PREFIX = "__raw_"
#: How much of an offending value a reason quotes.
QUOTE_CHARS = 80


class MissingColumnsError(ValueError):
    """A file lacks a required column of its table: the whole file is refused."""

    def __init__(self, path: object, table: str, missing: list[str]) -> None:
        self.missing = missing
        cols = ", ".join(f"{m} ({contract.table(table).column(m).zh})" for m in missing)
        name = getattr(path, "name", path)
        super().__init__(
            f"{name}: table {table} needs column(s) {cols}, not found in the file's headers"
        )


@dataclass(frozen=True)
class FilePlan:
    """How one file maps onto its table: column → file header, and each money column's unit."""

    source: Source
    table: contract.Table
    mapping: Mapping[str, str]
    units: Mapping[str, MoneyUnit]


def plan_file(source: Source, tbl: contract.Table, money_unit: MoneyUnit) -> FilePlan:
    """Map headers onto ``tbl``; raise :class:`MissingColumnsError` naming what is missing."""
    by_header = contract.map_headers(tbl, source.headers)
    mapping = {col: header for header, col in by_header.items()}
    missing = [c for c in tbl.required_columns if c not in mapping]
    if missing:
        raise MissingColumnsError(source.path, tbl.name, missing)
    units: dict[str, MoneyUnit] = {}
    for col in tbl.columns:
        if col.dtype != "money" or col.name not in mapping:
            continue
        header = mapping[col.name]
        units[col.name] = source.units.get(header) or header_unit(header) or money_unit
    return FilePlan(source=source, table=tbl, mapping=mapping, units=units)


def _value(v: str) -> str:
    """A raw value quoted for a reason, shortened."""
    return f"'''' || left(CAST({v} AS VARCHAR), {QUOTE_CHARS}) || ''''"


def _number(limit: float) -> str:
    return f"{limit:g}"


_TYPE_WORDS = {
    "int": "is not a whole number",
    "float": "is not a number",
    "money": "is not an amount of money",
    "timestamp": "is not a timestamp",
    "date": "is not a date",
    "bool": "is not true/false",
}


def _type_reason(col: contract.Column, unit: MoneyUnit | None) -> str:
    if col.dtype == "string" and col.allowed:
        return "is not one of " + ", ".join(col.allowed)
    if col.dtype == "money" and unit == "fen":
        return "is not a whole number of fen"
    return _TYPE_WORDS.get(col.dtype, "has the wrong type")


def fk_type_sql(plan: FilePlan, skip: frozenset[str] = frozenset()) -> dict[str, tuple[str, str]]:
    """{column: (ENUM type name, CREATE TYPE statement)} for each foreign key the file carries
    (but the ``skip`` ones, checked by a lookup instead).

    The types live only inside the batch's transaction (the loader drops them after staging).
    """
    out: dict[str, tuple[str, str]] = {}
    for col in plan.table.columns:
        if col.references is None or col.name not in plan.mapping or col.name in skip:
            continue
        ref_table, ref_col = col.references
        type_name = quote_ident(f"__ingest_fk_{col.name}")
        out[col.name] = (
            type_name,
            f"CREATE TYPE {type_name} AS ENUM (SELECT DISTINCT CAST({quote_ident(ref_col)} AS "
            f"VARCHAR) FROM {quote_ident(ref_table)} WHERE {quote_ident(ref_col)} IS NOT NULL)",
        )
    return out


@dataclass(frozen=True)
class _Typed:
    """One contract column of a file, typed: ``v`` the file's value (None for a column the file
    lacks), ``select`` what the scan outputs for it, ``fraction`` its fraction-of-a-fen flag."""

    col: contract.Column
    v: str | None
    select: list[str]
    fraction: str | None
    unit: MoneyUnit


def _typed_columns(plan: FilePlan, timezone: str) -> tuple[list[_Typed], dict[str, str]]:
    """The typed value of every contract column as the scan computes it, and the money
    columns whose value is NULLed for a fraction of a fen ({column: flag})."""
    out: list[_Typed] = []
    fractions: dict[str, str] = {}
    for col in plan.table.columns:
        name = quote_ident(col.name)
        header = plan.mapping.get(col.name)
        unit = plan.units.get(col.name, "yuan")
        if header is None:
            out.append(_Typed(col, None, [f"{_default_sql(col)} AS {name}"], None, unit))
            continue
        v, typed, fraction = typed_sql(
            col,
            quote_ident(header),
            plan.source.types.get(header, "VARCHAR"),
            unit=unit,
            timezone=timezone,
        )
        if col.default is not None:
            typed = f"CASE WHEN {v} IS NULL THEN {_default_sql(col)} ELSE {typed} END"
        if fraction is None:
            out.append(_Typed(col, v, [f"{typed} AS {name}"], None, unit))
            continue
        fname = quote_ident(f"__f_{col.name}")
        select = [f"{typed} AS {quote_ident(f'__t_{col.name}')}", f"{fraction} AS {fname}"]
        out.append(_Typed(col, v, select, fname, unit))
        fractions[col.name] = fname
    return out, fractions


#: The stage's hash of each row's key: duplicate keys are looked for among the rows sharing one
#: (a group-by of integers; over the keys' text it took 1.9 s instead of 1.4 s on 6.3M orders).
KEY_HASH = "__key_hash"


def staging_sql(
    plan: FilePlan,
    *,
    timezone: str,
    fk_types: Mapping[str, str] | None = None,
    fk_lookups: Mapping[str, tuple[str, str]] | None = None,
    keep: Sequence[str] | None = None,
    rejected_only: bool = False,
) -> str:
    """The SELECT producing ``__line`` (when the source numbers its lines), the typed contract
    columns, ``__reason`` and, for rejected rows only, the original values as ``__raw_0..n``
    (in the file's header order).
    ``rejected_only``: the rows with a reason only, chosen by the rules' flags before any
    sentence, key hash or original value is computed.

    ``keep`` names the typed columns to output (default: all); the loader stages only the key
    and foreign keys and types the accepted rows again as it inserts them
    (:func:`typed_rows_sql`).

    A record the reader found malformed (``Source.bad_column``) gets that reason alone: the
    values of a cut-off or shifted row would only add misleading ones. An amount in yuan with
    digits past the cent is typed NULL (so no rounded value reaches a check) and refused with
    its own reason.
    """
    fk_types = fk_types or {}
    fk_lookups = fk_lookups or {}
    src = plan.source
    # A plain CSV staged straight from DuckDB's read has no line yet: its rows are numbered by
    # their position in the stage (``sources.stage_plain``).
    line = [LINE] if src.numbered else []
    inner: list[str] = [*line]
    # Each rule as (condition, sentence): the conditions are evaluated once per row, as
    # booleans; the sentences are built only for the rows where one holds (on 6.3M valid
    # orders, building and joining forty NULL sentences per row was a third of the scan's CPU).
    rules: list[tuple[str, str]] = []
    typed_columns, fractions = _typed_columns(plan, timezone)
    for t in typed_columns:
        col = t.col
        name = quote_ident(col.name)
        vname = quote_ident(f"__v_{col.name}")
        if t.v is None:
            inner += t.select
            continue
        if t.select == [f"{t.v} AS {name}"]:
            # Typed as read (text into text): one expression, and no wrong type to look for.
            inner += t.select
            if col.required and col.default is None:
                rules.append(
                    (f"{name} IS NULL", quote_literal(f"column {col.name}: missing (required)"))
                )
            continue
        inner.append(f"{t.v} AS {vname}")
        inner += t.select
        label = f"column {col.name}: "
        wrong = f"{vname} IS NOT NULL AND {name} IS NULL"
        wrong_words = (
            f"{quote_literal(label)} || {_value(vname)} || "
            f"{quote_literal(' ' + _type_reason(col, t.unit))}"
        )
        if col.required and col.default is None:
            rules.append((f"{vname} IS NULL", quote_literal(label + "missing (required)")))
        if t.fraction is None:
            rules.append((wrong, wrong_words))
        else:
            fraction_words = (
                f"{quote_literal(label)} || {_value(vname)} || "
                f"{quote_literal(' has more than 2 decimals: a fraction of a fen is not rounded')}"
            )
            rules.append(
                (
                    f"{t.fraction} OR ({wrong})",
                    f"CASE WHEN {t.fraction} THEN {fraction_words} ELSE {wrong_words} END",
                )
            )
    for col in plan.table.columns:
        name = quote_ident(col.name)
        label = f"column {col.name}: "
        if col.minimum is not None:
            rules.append(
                (
                    f"{name} < {_number(col.minimum)}",
                    f"{quote_literal(label)} || CAST({name} AS VARCHAR) || "
                    f"{quote_literal(' is below the minimum ' + _number(col.minimum))}",
                )
            )
        if col.maximum is not None:
            rules.append(
                (
                    f"{name} > {_number(col.maximum)}",
                    f"{quote_literal(label)} || CAST({name} AS VARCHAR) || "
                    f"{quote_literal(' is above the maximum ' + _number(col.maximum))}",
                )
            )
        if col.references is None:
            continue
        ref_table, ref_col = col.references
        unknown = (
            f"{quote_literal(label)} || {_value(name)} || "
            f"{quote_literal(f' is not a known {ref_table}.{ref_col}')}"
        )
        if col.name in fk_types:
            # Membership through an ENUM of the referenced keys (a hash lookup in a scalar cast),
            # which keeps the rows in file order.
            rules.append(
                (
                    f"{name} IS NOT NULL AND TRY_CAST({name} AS {fk_types[col.name]}) IS NULL",
                    unknown,
                )
            )
        elif col.name in fk_lookups:
            # A membership join, for a table of too many keys for an ENUM (building one of
            # millions costs more than the whole load) or for a columnar file: the stage's row
            # order does not matter where rows are inserted from the file, in its order.
            ref_table, ref_col = fk_lookups[col.name]
            rules.append(
                (
                    f"{name} IS NOT NULL AND {name} NOT IN (SELECT {quote_ident(ref_col)} "
                    f"FROM {quote_ident(ref_table)} WHERE {quote_ident(ref_col)} IS NOT NULL)",
                    unknown,
                )
            )
    for check in plan.table.checks:
        rules.append(
            (
                f"NOT coalesce(({check.sql}), true)",
                quote_literal(f"check {check.name}: {check.reason}"),
            )
        )
    raw_cols = [
        f"{quote_ident(h)} AS {quote_ident(RAW_PREFIX + str(i))}" for i, h in enumerate(src.headers)
    ]
    inner += raw_cols
    if src.bad_column is not None:
        inner.append(f"{quote_ident(src.bad_column)} AS __bad")
    typed_names = [quote_ident(c.name) for c in plan.table.columns]
    flags = [quote_ident(f"__rule_{i}") for i in range(len(rules))]
    if rules:
        sentences = ", ".join(
            f"CASE WHEN {flag} THEN {words} END"
            for flag, (_, words) in zip(flags, rules, strict=True)
        )
        reason_expr = (
            f"CASE WHEN {' OR '.join(flags)} THEN NULLIF(concat_ws('; ', {sentences}), '') END"
        )
    else:
        reason_expr = "NULL"
    if src.bad_column is not None:
        reason_expr = f"coalesce(__bad, {reason_expr})"
    middle = [*line, *typed_names, f"{reason_expr} AS {REASON}"]
    middle += [quote_ident(RAW_PREFIX + str(i)) for i in range(len(src.headers))]
    kept = typed_names if keep is None else [quote_ident(c) for c in keep]
    key_hash = f"hash({', '.join(quote_ident(k) for k in plan.table.key)}) AS {KEY_HASH}"
    outer = [*line, *kept, key_hash, REASON]
    outer += [
        f"CASE WHEN {REASON} IS NOT NULL THEN {quote_ident(RAW_PREFIX + str(i))} END "
        f"AS {quote_ident(RAW_PREFIX + str(i))}"
        for i in range(len(src.headers))
    ]
    scan = _apply_fractions(f"(SELECT {', '.join(inner)} FROM {src.scan})", fractions)
    checked = ", ".join(f"({cond}) AS {flag}" for flag, (cond, _) in zip(flags, rules, strict=True))
    if checked:
        scan = f"(SELECT *, {checked} FROM {scan})"
    if rejected_only:
        failed = [*flags, *(["__bad IS NOT NULL"] if src.bad_column is not None else [])]
        scan = f"(SELECT * FROM {scan} WHERE {' OR '.join(failed) or 'false'})"
    return f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(middle)} FROM {scan})"


def typed_rows_sql(plan: FilePlan, *, timezone: str) -> str:
    """The SELECT of ``__line`` and the typed contract columns of every row of the file: the
    values :func:`staging_sql` checks, without the checks (the loader inserts from it the rows
    the staged reasons accepted, in a parallel scan of the file)."""
    typed_columns, fractions = _typed_columns(plan, timezone)
    inner = [LINE, *(sel for t in typed_columns for sel in t.select)]
    scan = _apply_fractions(f"(SELECT {', '.join(inner)} FROM {plan.source.scan})", fractions)
    typed_names = [quote_ident(c.name) for c in plan.table.columns]
    return f"SELECT {LINE}, {', '.join(typed_names)} FROM {scan}"


def key_hashes_sql(plan: FilePlan, *, timezone: str) -> str:
    """The key hash (``__key_hash``) of every row of the file with a key, typed as the stage
    types it: a superset of the valid rows' keys, read without the checks."""
    keys = plan.table.key
    cols = ", ".join(quote_ident(k) for k in keys)
    present = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k in keys)
    return (
        f"SELECT hash({cols}) AS {KEY_HASH} FROM ({typed_rows_sql(plan, timezone=timezone)}) "
        f"WHERE {present}"
    )


def stage_view_sql(plan: FilePlan, *, timezone: str, rejected: str, keep: Sequence[str]) -> str:
    """The stage of a file whose scan is cheap to repeat, as a view: the rejected rows of
    :func:`staging_sql` kept in the table ``rejected``, and every other row typed from the file
    (:func:`typed_rows_sql`) with no reason, the same columns in the same order."""
    kept = ", ".join(quote_ident(c) for c in keep)
    key_hash = f"hash({', '.join(quote_ident(k) for k in plan.table.key)}) AS {KEY_HASH}"
    raws = ", ".join(
        f"CAST(NULL AS VARCHAR) AS {quote_ident(RAW_PREFIX + str(i))}"
        for i in range(len(plan.source.headers))
    )
    return (
        f"SELECT {LINE}, {kept}, {key_hash}, CAST(NULL AS VARCHAR) AS {REASON}, {raws} "
        f"FROM ({typed_rows_sql(plan, timezone=timezone)}) "
        f"WHERE {LINE} NOT IN (SELECT {LINE} FROM {rejected}) "
        f"UNION ALL SELECT * FROM {rejected}"
    )


def _default_sql(col: contract.Column) -> str:
    return (
        f"CAST({quote_literal(col.default)} AS {col.sql_type})"
        if col.default is not None
        else f"CAST(NULL AS {col.sql_type})"
    )


def _apply_fractions(scan: str, fractions: Mapping[str, str]) -> str:
    """A money value with a fraction of a fen is typed NULL (computed once per value in
    ``scan``, applied here)."""
    if fractions:
        temps = ", ".join(quote_ident(f"__t_{c}") for c in fractions)
        applied = ", ".join(
            f"CASE WHEN {f} THEN NULL ELSE {quote_ident(f'__t_{c}')} END AS {quote_ident(c)}"
            for c, f in fractions.items()
        )
        scan = f"(SELECT * EXCLUDE ({temps}), {applied} FROM {scan})"
    return scan


def link_columns(tbl: contract.Table) -> tuple[str, ...]:
    """The key and the foreign keys of ``tbl``, in its column order: a row's identity and the
    rows it names, the typed values the loader stages (its brand checks read them)."""
    return tuple(c.name for c in tbl.columns if c.name in tbl.key or c.references is not None)


def key_label(tbl: contract.Table) -> str:
    """``order_id`` or ``(date, brand_id, campaign_id)``: how a reason names the key."""
    return tbl.key[0] if len(tbl.key) == 1 else "(" + ", ".join(tbl.key) + ")"


def key_list_sql(tbl: contract.Table, alias: str | None = None) -> str:
    """The key's columns, comma-separated (of ``alias`` when given)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + quote_ident(k) for k in tbl.key)


def key_join_sql(tbl: contract.Table, a: str, b: str) -> str:
    """The condition joining rows of ``a`` and ``b`` with the same key."""
    return " AND ".join(f"{a}.{quote_ident(k)} = {b}.{quote_ident(k)}" for k in tbl.key)


def key_value_sql(tbl: contract.Table, alias: str) -> str:
    """The key of a row as quoted text, for a reason."""
    parts = [f"'''' || CAST({alias}.{quote_ident(k)} AS VARCHAR) || ''''" for k in tbl.key]
    if len(parts) == 1:
        return parts[0]
    return "'(' || " + " || ', ' || ".join(parts) + " || ')'"
