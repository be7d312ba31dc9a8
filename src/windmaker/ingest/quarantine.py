"""Rejected rows of an import: the quarantine file beside the warehouse, with each row's
original values, file, line and reasons, and the summary of the most frequent reasons."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from windmaker import contract
from windmaker.ingest.coercion import quote_ident, quote_literal
from windmaker.ingest.sources import LINE
from windmaker.ingest.validation import (
    KEY_HASH,
    RAW_PREFIX,
    REASON,
    FilePlan,
    key_join_sql,
    key_label,
    key_list_sql,
    key_value_sql,
)

#: The import's table of rows rejected as duplicate keys (line, reason).
DUPS = "__ingest_dups"
#: Reason summaries kept per file.
TOP_REASONS = 5


def quarantine_path(qdir: Path, path: Path, table: str, digest: str) -> Path:
    qdir.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", path.stem)
    base = f"{datetime.now():%Y%m%dT%H%M%S}-{table}-{stem}-{digest[:8]}"
    out = qdir / f"{base}.csv"
    n = 1
    while out.exists():
        n += 1
        out = qdir / f"{base}-{n}.csv"
    return out


def write_quarantine(con: Any, plan: FilePlan, stage: str, out: Path, *, with_dups: bool) -> None:
    """Rejected rows with their original values: ``_file, _line, _reason`` then the file's columns."""
    src = plan.source
    # The file's name, not the folder it was read from (an upload's server-side folder).
    file_lit = quote_literal(src.path.name)
    headers = [quote_ident(h) for h in src.headers]
    own = [
        f"CAST({quote_ident(RAW_PREFIX + str(i))} AS VARCHAR) AS {h}" for i, h in enumerate(headers)
    ]
    parts = [
        f"SELECT {file_lit} AS _file, {LINE} AS _line, {REASON} AS _reason"
        + "".join(", " + c for c in own)
        + f" FROM {stage} WHERE {REASON} IS NOT NULL"
    ]
    if with_dups:
        # Valid rows rejected as duplicates carry no raw copy in staging: read them again.
        again = [f"CAST(r.{h} AS VARCHAR) AS {h}" for h in headers]
        parts.append(
            f"SELECT {file_lit}, d.{LINE}, d.{REASON}"
            + "".join(", " + c for c in again)
            + f" FROM {src.scan} AS r JOIN {DUPS} AS d ON r.{LINE} = d.{LINE}"
        )
    query = " UNION ALL ".join(parts) + " ORDER BY _line"
    con.execute(f"COPY ({query}) TO {quote_literal(str(out))} (FORMAT csv, HEADER true)")


def top_reasons(con: Any, stage: str, *, with_dups: bool) -> tuple[tuple[str, int], ...]:
    """The most frequent failing rules (the part of each reason before ``: ``)."""
    src = f"SELECT {REASON} FROM {stage} WHERE {REASON} IS NOT NULL"
    if with_dups:
        src += f" UNION ALL SELECT {REASON} FROM {DUPS}"
    rows = con.execute(
        f"""SELECT split_part(r, ': ', 1) AS rule, count(*) AS n FROM (
                SELECT unnest(string_split({REASON}, '; ')) AS r FROM ({src}))
            GROUP BY rule ORDER BY n DESC, rule LIMIT {TOP_REASONS}"""
    ).fetchall()
    return tuple((str(r), int(n)) for r, n in rows)


def find_duplicates(
    con: Any,
    tbl: contract.Table,
    stage: str,
    batch_keys: str | None,
    hashes: str | None = None,
) -> int:
    """Find the valid rows of ``stage`` whose key repeats an earlier line of the file or a file
    before it in the batch (``batch_keys``: their keys, lines and files); store them in
    :data:`DUPS` with their reasons (the first line wins, later ones name it) and count them.

    ``hashes`` selects the key hashes of any superset of the valid rows (default: the valid
    rows of the stage), read cheaper elsewhere.
    """
    label = key_label(tbl)
    # The key hashes that repeat (almost always none): the keys themselves are compared only
    # among the valid rows carrying one, and not at all when there are none.
    hashes = hashes or f"SELECT {KEY_HASH} FROM {stage} WHERE {REASON} IS NULL"
    # (two neighbours equal in hash order: sorting took 1.2 s on 10M keys, grouping 1.6 s)
    repeated = con.execute(
        f"SELECT 1 FROM (SELECT {KEY_HASH} = lag({KEY_HASH}) OVER (ORDER BY {KEY_HASH}) AS same "
        f"FROM ({hashes})) WHERE same LIMIT 1"
    ).fetchall()
    dup_parts = []
    if repeated:
        # (materialised: it is read twice, and each read would group the hashes again)
        candidates = (
            f"SELECT * FROM {stage} WHERE {REASON} IS NULL AND {KEY_HASH} IN ("
            f"SELECT {KEY_HASH} FROM {stage} WHERE {REASON} IS NULL "
            f"GROUP BY {KEY_HASH} HAVING count(*) > 1)"
        )
        dup_parts.append(
            f"""WITH __cand AS MATERIALIZED ({candidates})
                SELECT s.{LINE}, 'key {label}: ' || {key_value_sql(tbl, "s")}
                   || ' repeats line ' || CAST(f.__first AS VARCHAR) || ' (the first is kept)' AS r
                FROM __cand s JOIN (
                    SELECT {key_list_sql(tbl)}, min({LINE}) AS __first FROM __cand AS c
                    GROUP BY {key_list_sql(tbl)} HAVING count(*) > 1) f ON {key_join_sql(tbl, "s", "f")}
                WHERE s.{LINE} <> f.__first"""
        )
    if batch_keys is not None:
        dup_parts.append(
            f"""SELECT s.{LINE}, 'key {label}: ' || {key_value_sql(tbl, "s")} || ' repeats line '
                   || CAST(b.{LINE} AS VARCHAR) || ' of ' || b.__file || ' (the first is kept)' AS r
                FROM {stage} s JOIN {batch_keys} b ON {key_join_sql(tbl, "s", "b")}
                WHERE s.{REASON} IS NULL"""
        )
    found = (
        " UNION ALL ".join(f"({part})" for part in dup_parts)
        if dup_parts
        else "SELECT CAST(NULL AS BIGINT) AS __line, CAST(NULL AS VARCHAR) AS r LIMIT 0"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {DUPS} AS SELECT {LINE}, string_agg(r, '; ') AS {REASON} "
        f"FROM ({found}) GROUP BY {LINE}"
    )
    return int(con.execute(f"SELECT count(*) FROM {DUPS}").fetchone()[0])
