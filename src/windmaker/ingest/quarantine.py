"""Rejected rows of an import: the quarantine file beside the warehouse, with each row's
original values, file, line and reasons, and the summary of the most frequent reasons."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from windmaker.ingest.coercion import quote_ident, quote_literal
from windmaker.ingest.sources import LINE
from windmaker.ingest.validation import RAW_PREFIX, REASON, FilePlan

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
