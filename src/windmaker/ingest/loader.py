"""Loading a batch of files into the warehouse: one transaction, quarantine, replace-by-key.

Steps for each file, in contract order (a table after the tables it references), inside one
DuckDB transaction so the batch lands whole or not at all:

1. stage: one parallel scan of the file by the validation query (``validation.staging_sql``),
   which types every column and writes each failing rule as a reason. The stage holds each
   row's line, key and foreign keys, reasons and, for rejected rows, the original values. A
   CSV's stage is a temporary table; a file whose scan reads Parquet (Parquet itself, and the
   readers' converted copies) keeps only its rejected rows in a table and is staged as a view
   that reads the other rows' keys from the file again. The batch's first file is staged before
   the transaction opens (it references no table of the batch), because DuckDB reads a table
   made inside an open transaction on one thread; nothing is written to the warehouse's
   tables before the transaction;
2. duplicates: among valid rows, a key seen earlier in the file (or in an earlier file of the
   batch) is rejected, naming the line of the first, which is kept;
3. quarantine: rejected rows with their original values, file, line and reasons to a CSV;
4. merge: rows whose key is already in the warehouse are deleted, then the accepted rows
   inserted — typed again from the file in a parallel scan (``validation.typed_rows_sql``),
   every line the stage refused left out — so a later import replaces an earlier version of a
   row; ``_ingest_log`` records the file's SHA-256, and a file already imported into the same
   table is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from windmaker import contract
from windmaker.config import Settings
from windmaker.ingest.coercion import MoneyUnit, quote_ident, quote_literal
from windmaker.ingest.progress import FileProgress
from windmaker.ingest.quarantine import (
    DUPS,
    find_duplicates,
    quarantine_path,
    top_reasons,
    write_quarantine,
)
from windmaker.ingest.report import FileReport, IngestError, IngestReport
from windmaker.ingest.sources import (
    LINE,
    Source,
    SourceError,
    UnpackLimits,
    number_lines,
    open_source,
    stage_plain,
)
from windmaker.ingest.validation import (
    REASON,
    FilePlan,
    MissingColumnsError,
    fk_type_sql,
    key_hashes_sql,
    key_join_sql,
    key_list_sql,
    link_columns,
    plan_file,
    stage_view_sql,
    staging_sql,
    typed_rows_sql,
)
from windmaker.warehouse import Warehouse
from windmaker.warehouse.words import RAISE_MEMORY, engine_words

log = logging.getLogger(__name__)

LOG_TABLE = "_ingest_log"
LOG_SQL = f"""CREATE TABLE IF NOT EXISTS {LOG_TABLE} (
    file VARCHAR, sha256 VARCHAR, "table" VARCHAR, format VARCHAR, encoding VARCHAR,
    rows BIGINT, rows_accepted BIGINT, rows_rejected BIGINT, rows_replaced BIGINT,
    quarantine VARCHAR, "at" TIMESTAMP)"""
STAGE = "__ingest_stage"
#: The rejected rows of a columnar file staged as a view (:func:`_stage`).
REJECTED = "__ingest_rejected"
#: The rows of a plain CSV staged straight from DuckDB's read, which the stage's view numbers.
ROWS = "__ingest_rows"

Event = Callable[[str, Path], None]


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 4 MiB chunks (hashlib releases the GIL meanwhile)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def ingest_files(
    target: Settings | Warehouse,
    paths: Sequence[Path | str],
    table: str | None = None,
    money_unit: MoneyUnit | None = None,
    progress: Any = None,
    *,
    quarantine_dir: Path | None = None,
    timezone: str | None = None,
    on_event: Event | None = None,
    unpack_limits: UnpackLimits | None = None,
) -> IngestReport:
    """Validate and load ``paths`` into the warehouse as one all-or-nothing batch.

    Parameters
    ----------
    target
        A workspace's ``Settings`` (its warehouse, quarantine folder, money unit and time zone
        are used) or an open DuckDB ``Warehouse``.
    paths
        CSV (UTF-8, BOM, GBK/GB18030), XLSX, Parquet, JSON lines or 快手小店 order JSON files.
    table
        The contract table of every file; detected from each file's headers when None.
    money_unit
        Unit of money columns whose header does not declare one (``实付金额(分)`` does).
    progress
        A Rich ``Progress`` to show the batch on (one task per file); None or False: none.
    quarantine_dir, timezone
        Override the workspace's (or, for a bare ``Warehouse``, the defaults: a ``quarantine``
        folder next to the DuckDB file, Asia/Shanghai).
    on_event
        Called with ``("staged" | "merged" | "before_commit", path)`` as the batch advances.
    unpack_limits
        Size and ratio caps of XLSX, zip and gzip inputs (default: the workspace's
        ``unpacked_limit_bytes`` and ``unpacked_ratio_limit``, or 1 GiB and 100×).

    Raises
    ------
    IngestError
        The batch was refused as a whole; nothing was written.
    """
    if isinstance(target, Settings):
        from windmaker.workspace import open_warehouse

        try:
            wh = open_warehouse(target)
        except Exception as exc:
            log.warning("cannot open the warehouse: %s", exc)
            raise IngestError(
                f"the workspace's warehouse cannot be opened: {_in_words(exc)}; nothing was written"
            ) from None
        owned = True
        qdir = quarantine_dir or target.quarantine_path
        unit: MoneyUnit = money_unit or target.money_unit
        tz = timezone or target.timezone
        tmp_parent: Path | None = target.workspace
        limits = unpack_limits or UnpackLimits(
            max_bytes=target.unpacked_limit_bytes, max_ratio=target.unpacked_ratio_limit
        )
    else:
        wh, owned = target, False
        if wh.engine != "duckdb":
            raise IngestError(
                f"ingestion writes through DuckDB transactions; this warehouse is {wh.engine}"
            )
        wh.ensure_source_tables()
        qdir = quarantine_dir or _default_quarantine(wh)
        unit = money_unit or "yuan"
        tz = timezone or contract.TIMEZONE
        tmp_parent = None
        limits = unpack_limits or UnpackLimits()
    if table is not None:
        try:
            contract.table(table)
        except KeyError as exc:
            raise IngestError(str(exc.args[0])) from None
    if tmp_parent is not None:
        remove_stale_scratch(tmp_parent)
    try:
        with tempfile.TemporaryDirectory(
            prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=tmp_parent
        ) as tmp:
            return _ingest(
                wh,
                [Path(p) for p in paths],
                table,
                unit,
                tz,
                qdir,
                Path(tmp),
                progress,
                on_event,
                limits,
            )
    finally:
        if owned:
            wh.close()


#: Scratch folders of an import are named ``.ingest-<pid>-<random>`` inside the workspace.
SCRATCH_PREFIX = ".ingest-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_scratch(folder: Path) -> list[Path]:
    """Remove scratch folders left in ``folder`` by imports whose process was killed.

    A scratch folder is removed when the process named in it is gone (or the name has no
    process id, from an older version); a live import's folder is left alone. Returns what
    was removed.
    """
    removed: list[Path] = []
    for path in folder.glob(f"{SCRATCH_PREFIX}*"):
        pid_text = path.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if path.is_dir() and not (pid_text.isdigit() and _alive(int(pid_text))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _default_quarantine(wh: Warehouse) -> Path:
    target = wh.url.removeprefix("duckdb://")
    if target and target != ":memory:":
        return Path(target).parent / "quarantine"
    return Path(tempfile.gettempdir()) / "windmaker-quarantine"


def _ingest(
    wh: Warehouse,
    paths: list[Path],
    table: str | None,
    unit: MoneyUnit,
    tz: str,
    qdir: Path,
    tmp: Path,
    progress: Any,
    on_event: Event | None,
    limits: UnpackLimits,
) -> IngestReport:
    con = wh.duckdb
    sources: list[Source] = []
    reports: dict[int, FileReport] = {}
    plans: list[tuple[int, FilePlan]] = []
    try:
        for i, path in enumerate(paths):
            try:
                src = open_source(con, path, tmp, limits)
            except SourceError as exc:
                raise IngestError(str(exc)) from None
            except Exception as exc:
                log.warning("cannot read %s: %s", path, exc)
                raise IngestError(
                    f"{path.name}: cannot be read: {_in_words(exc)}; nothing was written"
                ) from exc
            sources.append(src)
            if src.empty:
                reports[i] = FileReport(path=path, table=table, fmt=src.fmt, note="empty file")
                continue
            plans.append((i, _plan(src, table, unit)))
        order = {t.name: k for k, t in enumerate(contract.TABLES)}
        plans.sort(key=lambda ip: (order[ip[1].table.name], ip[0]))
        written: list[Path] = []
        with ThreadPoolExecutor(max_workers=1) as pool:
            hashes = {i: pool.submit(sha256_file, p.source.path) for i, p in plans}
            old_pio = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[
                0
            ]
            # Each reader numbers its lines itself; this keeps the stored rows in the
            # file's order.
            con.execute("SET preserve_insertion_order = true")
            bar_given = progress is not None and not isinstance(progress, bool)
            if bar_given:
                con.execute("SET enable_progress_bar = true")
                con.execute("SET enable_progress_bar_print = false")
            try:
                with FileProgress(progress if bar_given else None) as bar:
                    tasks = {
                        i: bar.task(f"{p.source.path.name} → {p.table.name}") for i, p in plans
                    }
                    # The first file (its table comes first in the contract's order, so every
                    # table it references is outside the batch) is staged before the transaction
                    # opens: DuckDB reads a table made inside an open transaction on one thread,
                    # and the duplicate check, the counts and the quarantine read the stage.
                    if plans:
                        i, plan = plans[0]
                        with _stopped(plan):
                            whole = _stage(con, plan, tz, bar, tasks[i], whole=True)
                    for _, plan in plans[1:]:  # the later files' lines, on every core too
                        with _stopped(plan):
                            number_lines(con, plan.source)
                    with wh.transaction():
                        con.execute(LOG_SQL)
                        remaining = [p.table.name for _, p in plans]
                        for k, (i, plan) in enumerate(plans):
                            remaining.pop(0)
                            with _stopped(plan):
                                if k:
                                    whole = _stage(con, plan, tz, bar, tasks[i])
                                reports[i] = _load_file(
                                    con,
                                    plan,
                                    hashes[i],
                                    qdir,
                                    written,
                                    bar,
                                    tasks[i],
                                    tz=tz,
                                    whole=whole,
                                    more_of_table=plan.table.name in remaining,
                                    on_event=on_event,
                                )
                        for name in {p.table.name for _, p in plans}:
                            con.execute(
                                f"DROP TABLE IF EXISTS {quote_ident('__batch_keys_' + name)}"
                            )
                        if on_event is not None:
                            on_event("before_commit", plans[-1][1].source.path if plans else Path())
            except BaseException as exc:
                for q in written:
                    with contextlib.suppress(OSError):
                        q.unlink()
                if isinstance(exc, IngestError | KeyboardInterrupt | SystemExit):
                    raise
                if isinstance(exc, Exception):
                    log.warning("import failed: %s", exc)
                    raise IngestError(
                        f"the import stopped: {_in_words(exc)}; nothing was written"
                    ) from exc
                raise
            finally:
                with contextlib.suppress(Exception):
                    _drop_stage(con)
                with contextlib.suppress(Exception):
                    con.execute(f"SET preserve_insertion_order = {old_pio}")
                    con.execute("SET enable_progress_bar = false")
    finally:
        for src in sources:
            src.cleanup(con)
    return IngestReport(files=tuple(reports[i] for i in sorted(reports)))


def _plan(src: Source, table: str | None, unit: MoneyUnit) -> FilePlan:
    if src.fmt == "openplatform":
        tbl = contract.table(table or contract.ORDERS.name)
    elif table is not None:
        tbl = contract.table(table)
    else:
        detected = contract.detect_table(src.headers)
        if detected is None:
            raise IngestError(
                f"{src.path.name}: cannot tell which table these headers belong to "
                f"({', '.join(src.headers[:12])}); pass --table"
            )
        tbl = detected
    try:
        return plan_file(src, tbl, unit)
    except MissingColumnsError as exc:
        raise IngestError(str(exc)) from None


#: Above this many referenced keys a foreign key is checked by a lookup, not an ENUM: building
#: an ENUM of the 6.3M order ids of the demo took 17.5 s and checking 1.2M reviews against it
#: 8.9 s more, where the lookup took 0.7 s.
ENUM_MAX_KEYS = 200_000


def _looked_up_references(con: Any, plan: FilePlan) -> dict[str, tuple[str, str]]:
    """{column: (table, column)} of the file's foreign keys checked by a lookup (a membership
    join), not an ENUM: those whose table has over :data:`ENUM_MAX_KEYS` rows, and every one of
    a columnar file.

    An ENUM keeps the stage's rows in file order, which a CSV's stage needs (its rows are
    inserted from it). A columnar file's stage holds its rejected rows only, so the order does
    not matter there, and the lookup costs less than the cast (10M Parquet orders against
    1,000 brands, 20,000 SKUs and 5,000 accounts: the scan took 1.34 s against 1.86 s).
    """
    out: dict[str, tuple[str, str]] = {}
    for col in plan.table.columns:
        if col.references is None or col.name not in plan.mapping:
            continue
        ref_table, ref_col = col.references
        if plan.source.columnar:
            out[col.name] = (ref_table, ref_col)
            continue
        rows = con.execute(f"SELECT count(*) FROM {quote_ident(ref_table)}").fetchone()[0]
        if rows > ENUM_MAX_KEYS:
            out[col.name] = (ref_table, ref_col)
    return out


@contextlib.contextmanager
def _stopped(plan: FilePlan) -> Iterator[None]:
    """A failure while loading ``plan``'s file, as the user's error naming the file."""
    try:
        yield
    except Exception as exc:
        log.warning("import of %s failed: %s", plan.source.path, exc)
        raise IngestError(
            f"{plan.source.path.name}: the import stopped: {_in_words(exc)}; nothing was written"
        ) from exc


def _stage(
    con: Any, plan: FilePlan, tz: str, bar: FileProgress, task: Any, *, whole: bool = False
) -> bool:
    """Scan the file once into :data:`STAGE`: each row's line, key and foreign keys, reasons
    and (rejected rows only) original values; the accepted rows are typed again from the file
    as they are inserted.

    ``whole`` (a stage made before the transaction, which DuckDB reads on every core): a CSV's
    stage keeps every typed column and the rows are inserted from it, so the text is parsed and
    typed once. A plain CSV whose keys are all checked by ENUM casts is staged straight from
    DuckDB's read of it, its rows numbered by their position in the stage
    (``sources.stage_plain``). Returns whether the stage holds the rows to insert.
    """
    src = plan.source
    whole = whole and not src.columnar
    lookups = _looked_up_references(con, plan)
    if not whole or lookups:
        # A row's place in a stage made through a join (a key looked up) need not be its place
        # in the file: such a file's lines are numbered as it is read into a table.
        number_lines(con, src)
    fk = fk_type_sql(plan, frozenset(lookups))
    for type_name, create in fk.values():
        con.execute(f"DROP TYPE IF EXISTS {type_name}")
        con.execute(create)
    keep = link_columns(plan.table)

    def staging() -> str:
        return staging_sql(
            plan,
            timezone=tz,
            fk_types={c: t for c, (t, _) in fk.items()},
            fk_lookups=lookups,
            keep=None if whole else keep,
            rejected_only=src.columnar,
        )

    try:
        with bar.watching(con, task, 0, 70):
            if src.columnar:
                # Only the rejected rows are written; the rest are read again from the file
                # when asked (on 6.3M orders the validation scan took 2.1 s without writing
                # and 3.8 s writing every row's key, foreign keys and empty originals).
                con.execute(f"CREATE OR REPLACE TEMP TABLE {REJECTED} AS {staging()}")
                view = stage_view_sql(plan, timezone=tz, rejected=REJECTED, keep=keep)
                con.execute(f"CREATE OR REPLACE TEMP VIEW {STAGE} AS {view}")
            elif not src.numbered and (numbered := stage_plain(con, src, ROWS, staging())):
                con.execute(f"CREATE OR REPLACE TEMP VIEW {STAGE} AS SELECT * FROM {numbered}")
            else:  # a numbered scan (a plain file DuckDB could not number took the line pass)
                con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} AS {staging()}")
    except BaseException:
        # outside the transaction the types would outlive the failed import
        with contextlib.suppress(Exception):
            for type_name, _ in fk.values():
                con.execute(f"DROP TYPE IF EXISTS {type_name}")
        raise
    for type_name, _ in fk.values():
        con.execute(f"DROP TYPE {type_name}")
    if whole:  # the rows to insert are in the stage: free a plain CSV's table
        src.drop_tables(con)
    return whole


def _drop_stage(con: Any) -> None:
    """Drop the stage, a table or a view (:func:`_stage`), and the rows a view reads."""
    kind = con.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? AND temporary "
        "UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ? AND temporary",
        [STAGE, STAGE],
    ).fetchone()
    if kind is not None:
        con.execute(f"DROP {kind[0]} {STAGE}")
    con.execute(f"DROP TABLE IF EXISTS {REJECTED}")
    con.execute(f"DROP TABLE IF EXISTS {ROWS}")


def _load_file(
    con: Any,
    plan: FilePlan,
    sha: Future[str],
    qdir: Path,
    written: list[Path],
    bar: FileProgress,
    task: Any,
    *,
    tz: str,
    whole: bool,
    more_of_table: bool,
    on_event: Event | None,
) -> FileReport:
    """Check, quarantine and insert the staged file (:func:`_stage`) inside the batch's
    transaction."""
    src, tbl = plan.source, plan.table
    name = quote_ident(tbl.name)
    if on_event is not None:
        on_event("staged", src.path)
    stage = STAGE
    digest = sha.result()
    done = con.execute(
        f'SELECT "at" FROM {LOG_TABLE} WHERE sha256 = ? AND "table" = ? ORDER BY "at" DESC LIMIT 1',
        [digest, tbl.name],
    ).fetchone()
    if done is not None:
        _drop_stage(con)
        bar.update(task, 100, f"{src.path.name} → {tbl.name} (already imported)")
        return FileReport(
            path=src.path,
            table=tbl.name,
            fmt=src.fmt,
            encoding=src.encoding,
            sha256=digest,
            note=f"already imported at {done[0]:%Y-%m-%d %H:%M:%S}; nothing changed",
        )
    rows, invalid = con.execute(f"SELECT count(*), count({REASON}) FROM {stage}").fetchone()

    # Duplicate keys among valid rows: the first line wins, later ones name it.
    batch_keys = quote_ident("__batch_keys_" + tbl.name)
    has_batch = bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary",
            ["__batch_keys_" + tbl.name],
        ).fetchone()[0]
    )
    # A file staged as a view: its keys' hashes straight from the file, rejected rows included
    # (the view would leave them out by an anti-join of every row; 10M orders: 1.3 s → 0.9 s).
    hashes = key_hashes_sql(plan, timezone=tz) if src.columnar else None
    dups = find_duplicates(con, tbl, stage, batch_keys if has_batch else None, hashes)
    bar.update(task, 80)

    rejected = invalid + dups
    quarantine: Path | None = None
    reasons: tuple[tuple[str, int], ...] = ()
    if rejected:
        quarantine = quarantine_path(qdir, src.path, tbl.name, digest)
        written.append(quarantine)
        write_quarantine(con, plan, stage, quarantine, with_dups=dups > 0)
        reasons = top_reasons(con, stage, with_dups=dups > 0)

    accepted_where = f"{REASON} IS NULL" + (
        f" AND {LINE} NOT IN (SELECT {LINE} FROM {DUPS})" if dups else ""
    )
    replaced = 0
    if con.execute(f"SELECT EXISTS (SELECT 1 FROM {name})").fetchone()[0]:
        replaced = con.execute(
            f"DELETE FROM {name} AS t USING (SELECT DISTINCT {key_list_sql(tbl)} FROM {stage} "
            f"WHERE {accepted_where}) AS s WHERE {key_join_sql(tbl, 't', 's')}"
        ).fetchone()[0]
    cols = ", ".join(quote_ident(c.name) for c in tbl.columns)
    if whole:
        source = f"{stage} WHERE {accepted_where}"
    else:
        # From the file, not the stage: DuckDB reads a table made in the open transaction on
        # one thread, and the insert then took twice as long as typing the file again in a
        # parallel scan (6.3M orders: 9.7 s against 5 s). The typed values are the ones the
        # stage checked.
        refused = f"SELECT {LINE} FROM {stage} WHERE NOT ({accepted_where})"
        typed = typed_rows_sql(plan, timezone=tz)
        source = f"({typed}) WHERE {LINE} NOT IN ({refused})" if rejected else f"({typed})"
    with bar.watching(con, task, 80, 99):
        con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM {source}")
    if more_of_table:
        if not has_batch:
            con.execute(
                f"CREATE TEMP TABLE {batch_keys} AS SELECT {key_list_sql(tbl)}, {LINE}, "
                f"'' AS __file FROM {stage} LIMIT 0"
            )
        con.execute(
            f"INSERT INTO {batch_keys} SELECT {key_list_sql(tbl)}, {LINE}, "
            f"{quote_literal(src.path.name)} FROM {stage} WHERE {accepted_where}"
        )
    accepted = rows - rejected
    con.execute(
        f"INSERT INTO {LOG_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            str(src.path.resolve()),
            digest,
            tbl.name,
            src.fmt,
            src.encoding,
            rows,
            accepted,
            rejected,
            replaced,
            str(quarantine) if quarantine else None,
            datetime.now().replace(microsecond=0),
        ],
    )
    _drop_stage(con)
    con.execute(f"DROP TABLE {DUPS}")
    bar.update(task, 100)
    if on_event is not None:
        on_event("merged", src.path)
    return FileReport(
        path=src.path,
        table=tbl.name,
        fmt=src.fmt,
        encoding=src.encoding,
        rows=rows,
        accepted=accepted,
        rejected=rejected,
        replaced=replaced,
        quarantine=quarantine,
        sha256=digest,
        reasons=reasons,
    )


def _in_words(exc: BaseException) -> str:
    """What stopped a batch, in words (:func:`windmaker.warehouse.words.engine_words`)."""
    return engine_words(exc, memory_hint=f"{RAISE_MEMORY}, or import the file in parts")
