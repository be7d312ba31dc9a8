"""The warehouse: the one place that connects to an Ibis backend and executes expressions.

Domain code (``metrics``, ``growth``, ``models``) builds Ibis expressions over the tables it is
given and never executes them; this module runs them on DuckDB (an embedded file, the default)
or on Spark (``pyspark://MASTER``), and stores results.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.operations as ops
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend
from pydantic import ByteSize, TypeAdapter, ValidationError

from windmaker import contract, results
from windmaker.warehouse import faults
from windmaker.warehouse.money import money, with_money
from windmaker.warehouse.overlap import read_ahead, write_behind
from windmaker.warehouse.spark import spark_session

__all__ = ["TableStatus", "Warehouse", "connect", "money", "spark_session", "with_money"]

#: Tables windmaker writes: metric tables, diagnosis results, model outputs, ingest bookkeeping.
RESULT_PREFIXES = ("m_", "g_", "mdl_", "_")
#: The DuckDB connections (by id) inside a transaction opened here: DuckDB cannot say so without
#: failing a statement, which aborts the transaction.
_IN_TRANSACTION: set[int] = set()


@dataclass(frozen=True)
class TableStatus:
    """Row count and time range of one warehouse table, for ``windmaker status``."""

    name: str
    rows: int
    first: datetime | None
    last: datetime | None


#: Rows a per-group map reads at a time on the embedded engine (the settings' default).
DEFAULT_GROUP_BATCH_ROWS = 2_000_000
#: The limit DuckDB's buffer pool is lowered to for a moment to give back what it keeps
#: (:meth:`Warehouse.release_cache`).
RELEASE_TO = "256MB"

log = logging.getLogger(__name__)


class Warehouse:
    """A connection to the analytics engine.

    Parameters
    ----------
    url
        ``duckdb://PATH`` (``duckdb://`` alone is in memory), ``pyspark://MASTER`` (``local[2]``,
        ``spark://host:7077``), or any other Ibis connection URL.
    memory_limit, threads
        Limits of the embedded DuckDB engine.
    group_batch_rows
        Rows :meth:`map_groups` reads into this process at a time (whole groups; a group larger
        than this is read alone), so its memory is bounded by this setting, not by the market.
    """

    def __init__(
        self,
        url: str,
        *,
        memory_limit: str = "6GB",
        threads: int = 2,
        group_batch_rows: int = DEFAULT_GROUP_BATCH_ROWS,
    ) -> None:
        self.url = url
        self.group_batch_rows = group_batch_rows
        self.memory_limit: str | None = memory_limit
        if url.startswith("duckdb://"):
            self.engine = "duckdb"
            target = url.removeprefix("duckdb://") or ":memory:"
            if target != ":memory:":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            self.backend: BaseBackend = ibis.duckdb.connect(
                target,
                memory_limit=memory_limit,
                threads=threads,
                preserve_insertion_order=False,
            )
            # Long work reports through windmaker's own progress bars, not DuckDB's.
            self.backend.con.execute("SET enable_progress_bar = false")  # type: ignore[attr-defined]
        elif url.startswith("pyspark://"):
            self.engine = "pyspark"
            self.backend = ibis.pyspark.connect(
                spark_session(url.removeprefix("pyspark://") or "local[2]")
            )
        else:
            self.engine = url.split("://", 1)[0]
            self.backend = ibis.connect(url)

    @classmethod
    def from_backend(
        cls, backend: BaseBackend, *, group_batch_rows: int = DEFAULT_GROUP_BATCH_ROWS
    ) -> Warehouse:
        """Wrap an existing Ibis backend (a SparkSession's, a test's in-memory DuckDB)."""
        self = cls.__new__(cls)
        self.group_batch_rows = group_batch_rows
        self.url = f"{backend.name}://"
        self.engine = backend.name
        self.backend = backend
        self.memory_limit = None  # the caller's engine: its settings are the caller's
        return self

    # -- reading -----------------------------------------------------------------------------
    def table(self, name: str) -> ibis.Table:
        return self.backend.table(name)

    def has_table(self, name: str) -> bool:
        return name in self.backend.list_tables()

    def tables(self) -> list[str]:
        return sorted(self.backend.list_tables())

    def execute(self, expr: ibis.Expr, **kwargs: Any) -> Any:
        """Run ``expr`` and return pandas (a DataFrame, Series or scalar)."""
        try:
            return self.backend.execute(expr, **kwargs)
        finally:
            self._release(expr)

    def to_arrow(self, expr: ibis.Expr) -> pa.Table:
        try:
            return self.backend.to_pyarrow(expr)
        finally:
            self._release(expr)

    def _release(self, expr: ibis.Expr) -> None:
        """Unregister the in-memory tables ``expr`` read from the DuckDB connection.

        Ibis registers an in-memory table (``ibis.memtable``, a frame written or appended) on
        the connection the first time a query reads it and drops it only when the process
        exits, so the connection kept every frame it was ever given: the lifetime-value
        scoring's batches of buyers grew the main job by 4 GB at 100M orders, and a server
        would grow with every run. A table read again is registered again.
        """
        if self.engine != "duckdb":
            return
        for op in expr.op().find(ops.InMemoryTable):
            with contextlib.suppress(Exception):  # not registered (never read): nothing to do
                self.duckdb.unregister(op.name)
            self.backend._memtables.discard(op)  # type: ignore[attr-defined]

    def release_cache(self) -> None:
        """Give back the memory DuckDB keeps for the table blocks it has read.

        DuckDB keeps what it read up to its ``memory_limit`` and evicts only to make room, so
        after the metrics a main job's process held its whole limit while the model fits'
        worker processes started beside it: at 100M orders under a 3 GB limit the process
        held 5.6 GiB as they began. Lowering the limit makes the buffer pool evict down to
        it; the configured limit is then set again. Blocks that cannot be evicted stay.
        """
        with self.held_to(RELEASE_TO):
            pass

    @contextlib.contextmanager
    def held_to(self, limit: str) -> Iterator[None]:
        """Hold DuckDB to ``limit`` (if lower than the configured limit) for the block.

        Lowering the limit evicts what the buffer pool keeps beyond it, and the block's reads
        then keep no more: while the model fits' worker processes run beside this one, the
        engine's reads are batches of whole brands, and what it would keep of the tables they
        scan is the operating system's page cache's to keep (at 100M orders under a 3 GB
        limit the engine refilled its cache within a minute of being emptied, and the
        process tree went past 6 GiB). The configured limit is set again after the block.
        """
        setting = self.memory_limit
        if self.engine != "duckdb" or setting is None:  # another engine: left as it is
            yield
            return
        lower, configured = _bytes(limit), _bytes(setting)
        if lower is None or configured is None or lower >= configured:
            yield  # no lower limit known: the engine is left as configured
            return
        try:
            self.duckdb.execute(f"SET memory_limit = '{_quoted(limit)}'")
        except Exception:  # what cannot be evicted stays; the limit is set back below
            log.debug("the engine kept more than %s", limit)
        try:
            yield
        finally:
            self.duckdb.execute(f"SET memory_limit = '{_quoted(setting)}'")

    def sql(self, query: str) -> ibis.Table:
        """An Ibis table over a raw SQL query (benchmarks and references only)."""
        return self.backend.sql(query)

    # -- writing -----------------------------------------------------------------------------
    def write(
        self,
        name: str,
        obj: ibis.Table | pa.Table | pd.DataFrame,
        *,
        overwrite: bool = True,
        scratch: bool = False,
        compression: dict[str, str] | None = None,
    ) -> None:
        """Create (or replace) table ``name`` from an expression or an in-memory table.

        ``scratch``: a working table of this connection only, dropped when it closes (DuckDB
        keeps it out of the database file and its write-ahead log; other engines store it).

        ``compression`` (``{column: method}``, e.g. ``"dictionary"``) chooses DuckDB's storage
        compression of some columns of an expression; other engines choose their own. DuckDB picks
        each segment's compression by size; for a column of short, many-valued strings (buyer
        ids) that is FSST, which costs more to read back than the slightly larger dictionary: a
        one-day refresh looks up its buyers among every stored buyer day.

        The money columns of a declared result table (:mod:`windmaker.results`) are stored as
        DECIMAL(18,2) yuan, rounded to the cent (:func:`with_money`), whatever type they come in.
        """
        obj = with_money(obj, results.money_columns(name))
        if compression and self.engine == "duckdb" and isinstance(obj, ibis.Table):
            from ibis.backends.sql.datatypes import DuckDBType

            columns = ", ".join(
                f"{_quote(c)} {DuckDBType.to_string(t)}"
                + (f" USING COMPRESSION {compression[c]}" if c in compression else "")
                for c, t in obj.schema().items()
            )
            self.duckdb.execute(f"CREATE OR REPLACE TABLE {_quote(name)} ({columns})")
            self.insert(name, obj)
            return
        temp = scratch and self.engine == "duckdb"
        data = obj if isinstance(obj, ibis.Table) else ibis.memtable(obj)
        self.backend.create_table(name, data, overwrite=overwrite, temp=temp)
        self._release(data)

    def insert(self, name: str, obj: ibis.Table | pa.Table | pd.DataFrame) -> None:
        """Append the rows of an expression or an in-memory table to table ``name``."""
        if self.engine == "duckdb" and isinstance(obj, ibis.Table):
            # Ibis's insert compiles the query to SQL text, parses that text back with
            # sqlglot's pure-Python parser and prints it again; on a refresh's large queries
            # the parse was a third of an incremental refresh. The compiled text runs as is.
            self.backend._run_pre_execute_hooks(obj)  # registers the in-memory tables it reads
            columns = ", ".join(_quote(c) for c in obj.columns)
            sql = self.backend.compile(obj)
            self.duckdb.execute(f"INSERT INTO {_quote(name)} ({columns}) {sql}")
            self._release(obj)
            return
        data = obj if isinstance(obj, ibis.Table) else ibis.memtable(obj)
        self.backend.insert(name, data)
        self._release(data)

    def delete_from(self, name: str, column: str, start: Any) -> None:
        """Delete the rows of ``name`` whose ``column`` is at or after ``start``.

        An incremental refresh replaces only its latest periods this way, instead of rewriting
        whole tables. Engines without ``DELETE`` (Spark) rewrite the kept rows via a staging table.
        """
        if self.engine == "duckdb":
            self.duckdb.execute(f'DELETE FROM "{name}" WHERE "{column}" >= ?', [start])
            return
        t = self.table(name)
        staging = f"_{name}_staging"
        self.write(staging, t.filter(t[column] < ibis.literal(start)))
        self.write(name, self.table(staging))
        self.drop(staging)

    # -- per-group maps --------------------------------------------------------------------
    def map_groups(
        self,
        expr: ibis.Table,
        by: str,
        fn: Callable[[pd.DataFrame], pd.DataFrame],
        columns: Mapping[str, str],
        *,
        into: str | None = None,
    ) -> pd.DataFrame | None:
        """``fn`` over each group of ``expr``'s rows sharing ``by``, the results concatenated.

        ``columns`` names ``fn``'s output columns and their types (``string``, ``float64``,
        ``int64``, ``bool``, ``date``). On Spark this is the engine's own per-group map
        (``groupBy(by).applyInPandas``): each group is handed to a Python worker on an executor
        and only the results travel; elsewhere the groups are mapped in this process, read in
        batches of whole groups of at most ``group_batch_rows`` rows. With ``into`` the results
        are stored as that table (through :meth:`in_parts`, so a result table's money columns
        are typed) instead of being returned.
        """
        if self.engine == "pyspark":
            frame = self.backend.raw_sql(self.backend.compile(expr))  # type: ignore[attr-defined]
            ddl = ", ".join(f"`{c}` {_SPARK_TYPES[t]}" for c, t in columns.items())
            mapped = frame.groupBy(by).applyInPandas(fn, schema=ddl)
            if into is None:
                return _typed(mapped.toPandas(), columns)
            view = f"_windmaker_map_{into}"
            mapped.createOrReplaceTempView(view)
            self.write(into, self.table(view))
            return None

        def batches() -> Iterator[pd.DataFrame]:
            for data in self.in_group_batches(expr, by, empty=True):
                parts = [fn(g) for _, g in data.groupby(by, sort=False)] if len(data) else []
                out = (
                    _typed(pd.concat(parts, ignore_index=True), columns)
                    if parts
                    else _typed(pd.DataFrame(columns=list(columns)), columns)
                )
                del data, parts
                yield out

        if into is None:
            collected = list(batches())
            return pd.concat(collected, ignore_index=True) if len(collected) > 1 else collected[0]
        with self.in_parts(into) as add:
            for out in batches():
                add(out)
        return None

    def in_group_batches(
        self,
        expr: ibis.Table,
        by: str,
        *,
        empty: bool = False,
        largest_first: bool = False,
        ahead: bool = False,
    ) -> Generator[pd.DataFrame]:
        """``expr``'s rows read in batches of whole groups of ``by``, each of at most
        ``group_batch_rows`` rows (a larger group comes alone); with ``empty``, an empty
        table yields one empty frame rather than none. The batches follow the groups' keys,
        or with ``largest_first`` their sizes, largest first.

        With ``ahead``, on DuckDB, the next batch is read on a thread while the caller works on
        this one (:func:`.overlap.read_ahead`): the caller must not use the warehouse while it
        iterates, except to store parts through :meth:`in_parts`, which does not use the
        connection there. The batches are then of half the rows, so that the batch read ahead,
        the one in hand and the part its caller is writing behind hold what one batch and its
        part held. Elsewhere the batches are read in turn.
        """
        if ahead and self.engine == "duckdb":
            rows = max(self.group_batch_rows // 2, 1)
            return read_ahead(self._group_batches(expr, by, rows, empty, largest_first))
        return self._group_batches(expr, by, self.group_batch_rows, empty, largest_first)

    def _group_batches(
        self, expr: ibis.Table, by: str, rows: int, empty: bool, largest_first: bool
    ) -> Generator[pd.DataFrame]:
        sizes = expr.group_by(by).aggregate(_rows=expr.count())
        sizes = self.execute(
            sizes.order_by([ibis.desc("_rows"), by]) if largest_first else sizes.order_by(by)
        )
        batches = group_batches(sizes[by].tolist(), sizes["_rows"].tolist(), rows)
        if len(batches) <= 1:
            if batches or empty:
                yield self.execute(expr)
            return
        for keys in batches:
            yield self.execute(expr.filter(expr[by].isin(keys)))

    @contextlib.contextmanager
    def in_parts(self, name: str) -> Iterator[Callable[[pd.DataFrame], None]]:
        """Create (or replace) table ``name`` from frames given one by one to the function
        this yields, their money columns typed as :meth:`write` types them; the table is
        stored when the block ends without error.

        On DuckDB the parts go to a Parquet file in the warehouse's temporary folder and the
        table is created from it in one statement: inserted part by part inside the main
        job's transaction, DuckDB held each part's rows outside its memory limit until the
        commit (about 0.4 GB per 2M-row part; the lifetime-value scoring's 50M buyers grew
        the job past 7 GB at 100M orders). Other engines append the parts as they come.
        """
        money_cols = results.money_columns(name)
        first: list[pd.DataFrame] = []  # the first part's columns: a part was given
        if self.engine != "duckdb":

            def add(part: pd.DataFrame) -> None:
                if not first:
                    first.append(part.head(0).copy())
                    self.write(name, part)
                else:
                    self.insert(name, with_money(part, money_cols))

            yield add
            if not first:
                raise ValueError(f"no part was given for table {name}")
            return
        import pyarrow.parquet as pq

        with tempfile.TemporaryDirectory(dir=self._temp_dir()) as folder:
            path = str(Path(folder) / f"{name}.parquet")
            writer: pq.ParquetWriter | None = None
            try:

                def add(part: pd.DataFrame) -> None:
                    nonlocal writer
                    if not first:
                        first.append(part.head(0).copy())
                    if part.empty:
                        return
                    table = with_money(part, money_cols)
                    if not isinstance(table, pa.Table):
                        table = pa.Table.from_pandas(table, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(path, table.schema.remove_metadata())
                    # one schema for every part: a column all null in one part is typed null
                    writer.write_table(table.cast(writer.schema))

                # Each part is written while the caller makes the next (the writer's work is
                # Arrow's and Parquet's, outside Python's lock; nothing here uses the
                # connection, which lets ``in_group_batches(ahead=True)`` read meanwhile).
                with write_behind(add) as later:
                    yield later
            finally:
                if writer is not None:
                    writer.close()
            if not first:
                raise ValueError(f"no part was given for table {name}")
            if writer is None:
                self.write(name, first[0])
                return
            view = f"_windmaker_parts_{name}"
            self.backend.read_parquet(path, table_name=view)  # type: ignore[attr-defined]
            try:
                self.write(name, self.table(view))
            finally:
                self.duckdb.execute(f"DROP VIEW IF EXISTS {_quote(view)}")

    def _temp_dir(self) -> str | None:
        """DuckDB's folder for data spilled to disk, next to the database file (None: the
        system's, for an in-memory database)."""
        target = self.url.removeprefix("duckdb://")
        if target in ("", ":memory:"):
            return None
        folder = self.duckdb.execute("SELECT current_setting('temp_directory')").fetchone()[0]
        if not folder:
            return None
        Path(folder).mkdir(parents=True, exist_ok=True)
        return str(folder)

    def drop(self, name: str) -> None:
        self.backend.drop_table(name, force=True)

    @property
    def duckdb(self) -> Any:
        """The raw DuckDB connection, for work that needs DuckDB's transactions (ingestion)."""
        if self.engine != "duckdb":
            raise RuntimeError(f"this needs the DuckDB warehouse, not {self.engine}")
        return self.backend.con  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """All-or-nothing on DuckDB: commit on success, roll back on any error or interruption.

        A process killed inside leaves nothing: DuckDB replays only committed work from its
        write-ahead log.
        """
        con = self.duckdb
        con.execute("BEGIN TRANSACTION")
        _IN_TRANSACTION.add(id(con))
        try:
            yield con
            faults.reach("commit")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")
        finally:
            _IN_TRANSACTION.discard(id(con))

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction around many writes where the engine has them (DuckDB), so readers
        see all of them or none; other engines (Spark) write as they go.

        Inside a transaction already open on this connection (a refresh within the main job),
        the writes join it and commit with it.
        """
        if self.engine != "duckdb" or id(self.duckdb) in _IN_TRANSACTION:
            yield
            return
        with self.transaction():
            yield

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one committed state (DuckDB's snapshot isolation), however many
        queries they take: a refresh committing meanwhile is seen whole or not at all.

        On a connection already inside a transaction, the reads see that transaction's state;
        other engines read as they go.
        """
        if self.engine != "duckdb" or id(self.duckdb) in _IN_TRANSACTION:
            yield
            return
        con = self.duckdb
        con.execute("BEGIN TRANSACTION")
        _IN_TRANSACTION.add(id(con))
        try:
            yield
        finally:
            _IN_TRANSACTION.discard(id(con))
            con.execute("COMMIT")

    def ensure_source_tables(self) -> None:
        """Create the nine contract tables, empty, where they do not exist yet."""
        if self.engine == "duckdb":
            for tbl in contract.TABLES:
                self.duckdb.execute(tbl.create_sql())
            return
        for tbl in contract.TABLES:
            if not self.has_table(tbl.name):
                schema = ibis.schema({c.name: _ibis_type(c.dtype) for c in tbl.columns})
                self.backend.create_table(tbl.name, schema=schema)

    def status(self, *, internal: bool = False) -> list[TableStatus]:
        """Rows and time range of every contract table and every result table; ``internal``
        adds the tables the steps keep for their next run (names starting with ``_``)."""
        out = []
        present = set(self.backend.list_tables())
        for tbl in contract.TABLES:
            if tbl.name not in present:
                continue
            t = self.table(tbl.name)
            if tbl.time_column:
                col = t[tbl.time_column]
                row = self.execute(t.aggregate(n=t.count(), lo=col.min(), hi=col.max()))
                lo, hi = row["lo"].iloc[0], row["hi"].iloc[0]
                out.append(TableStatus(tbl.name, int(row["n"].iloc[0]), _ts(lo), _ts(hi)))
            else:
                out.append(TableStatus(tbl.name, int(self.execute(t.count())), None, None))
        for name in sorted(present - set(contract.TABLES_BY_NAME)):
            if name.startswith(RESULT_PREFIXES) and (internal or not name.startswith("_")):
                out.append(
                    TableStatus(name, int(self.execute(self.table(name).count())), None, None)
                )
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.backend.disconnect()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Spark's names of the column types :meth:`Warehouse.map_groups` returns.
_SPARK_TYPES = {
    "string": "string",
    "float64": "double",
    "int64": "bigint",
    "bool": "boolean",
    "date": "date",
}


def _typed(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """``frame``'s ``columns`` in that order and with those types (dates as ``datetime.date``)."""
    out = frame[list(columns)].copy()
    for col, kind in columns.items():
        if kind == "date":
            out[col] = pd.to_datetime(out[col]).dt.date
        elif kind == "string":
            out[col] = out[col].astype("string")
        else:
            out[col] = out[col].astype(kind)
    return out


def _quoted(text: str) -> str:
    """``text`` inside a DuckDB string literal."""
    return text.replace("'", "''")


def _bytes(size: str) -> int | None:
    """A memory size as DuckDB reads it ("3GB": 10^9 bytes to the GB, "1GiB": 2^30), or None
    for a spelling DuckDB takes and pydantic's parser does not ("3 gigabytes")."""
    try:
        return int(TypeAdapter(ByteSize).validate_python(size))
    except ValidationError:
        return None


def _quote(identifier: str) -> str:
    """A DuckDB identifier in double quotes."""
    return '"' + identifier.replace('"', '""') + '"'


def _ts(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()


def _ibis_type(dtype: contract.DType) -> str:
    return {
        "string": "string",
        "int": "int64",
        "money": "decimal(18,2)",
        "float": "float64",
        "timestamp": "timestamp",
        "date": "date",
        "bool": "boolean",
    }[dtype]


def group_batches(keys: list[Any], rows: list[int], limit: int) -> list[list[Any]]:
    """``keys`` (in order) cut into runs of at most ``limit`` rows in all; a group larger than
    ``limit`` is a run of its own."""
    batches: list[list[Any]] = []
    current: list[Any] = []
    filled = 0
    for key, n in zip(keys, rows, strict=True):
        if current and filled + n > limit:
            batches.append(current)
            current, filled = [], 0
        current.append(key)
        filled += n
    if current:
        batches.append(current)
    return batches


def connect(settings: Any) -> Warehouse:
    """The warehouse of a workspace's ``Settings``."""
    return Warehouse(
        settings.warehouse_url,
        memory_limit=settings.memory_limit,
        threads=settings.threads,
        group_batch_rows=settings.group_batch_rows,
    )
