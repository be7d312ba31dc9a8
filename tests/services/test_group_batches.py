"""Per-group work on DuckDB reads whole groups in batches of a configured size, so its memory is
bounded by ``group_batch_rows``, not by the market; the results are those of one batch.

Known answers: a hand-made table cut into runs of at most the limit (a larger group alone);
lifetime-value scoring of a diagnosed market with a limit of a few thousand rows stores exactly
the buyers and brand table it stores in one batch.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import ibis
import pandas as pd
import pytest

from windmaker import results, warehouse
from windmaker.config import Settings, load_settings
from windmaker.warehouse import Warehouse, group_batches
from windmaker.workspace import open_warehouse


def test_batches_hold_whole_groups_up_to_the_limit() -> None:
    keys, rows = ["a", "b", "c", "d", "e"], [3, 4, 9, 2, 2]
    assert group_batches(keys, rows, 7) == [["a", "b"], ["c"], ["d", "e"]]
    assert group_batches(keys, rows, 100) == [keys]
    assert group_batches(keys, rows, 1) == [[k] for k in keys]
    assert group_batches([], [], 5) == []


def test_map_groups_reads_at_most_the_limit_at_a_time() -> None:
    wh = Warehouse("duckdb://", group_batch_rows=5)
    data = pd.DataFrame({"g": list("aaabbbbcdddddd"), "x": range(14)})
    wh.write("t", data)
    seen: list[int] = []
    real = wh.execute

    def execute(expr: ibis.Expr) -> pd.DataFrame:
        out = real(expr)
        if isinstance(out, pd.DataFrame) and "x" in out:
            seen.append(len(out))
        return out

    wh.execute = execute  # type: ignore[method-assign]

    def total(group: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"g": [group["g"].iloc[0]], "s": [int(group["x"].sum())]})

    got = wh.map_groups(wh.table("t"), "g", total, {"g": "string", "s": "int64"})
    assert got is not None
    assert dict(zip(got["g"], got["s"], strict=True)) == data.groupby("g")["x"].sum().to_dict()
    # a (3) alone, since b (4) would pass 5; c (1) joins b; d (6) is over 5 and read alone
    assert seen == [3, 5, 6]
    wh.map_groups(wh.table("t"), "g", total, {"g": "string", "s": "int64"}, into="sums")
    stored = wh.execute(wh.table("sums")).sort_values("g")
    assert stored["s"].tolist() == data.groupby("g")["x"].sum().tolist()
    # A warehouse wrapping a backend (an embedding application's, a test's) batches alike.
    wrapped = Warehouse.from_backend(wh.backend, group_batch_rows=5)
    again = wrapped.map_groups(wrapped.table("t"), "g", total, {"g": "string", "s": "int64"})
    assert again is not None and again.equals(got)


@pytest.fixture
def market(diagnosed_market: Settings, tmp_path: Path) -> Settings:
    shutil.copytree(diagnosed_market.workspace, tmp_path / "ws")
    return load_settings(tmp_path / "ws")


def test_scoring_in_batches_stores_what_one_batch_stores(market: Settings) -> None:
    from windmaker.models.clv import ClvConfig
    from windmaker.services.models import fit_clv

    config = ClvConfig(pareto_nbd=False)
    with open_warehouse(market) as wh:
        one = fit_clv(wh, config).sort_values("brand_id").reset_index(drop=True)
        buyers_one = wh.execute(wh.table(results.CLV_BUYERS))
        assert len(buyers_one) > 10_000
    batched = market.model_copy(update={"group_batch_rows": 3_000})
    with open_warehouse(batched) as wh:
        assert wh.group_batch_rows == 3_000
        many = fit_clv(wh, config, force=True).sort_values("brand_id").reset_index(drop=True)
        buyers_many = wh.execute(wh.table(results.CLV_BUYERS))
    pd.testing.assert_frame_equal(many, one)
    key = ["brand_id", "buyer_id"]
    pd.testing.assert_frame_equal(
        buyers_many.sort_values(key).reset_index(drop=True),
        buyers_one.sort_values(key).reset_index(drop=True),
    )


def test_the_lifetime_value_fits_and_scoring_hold_the_engine_to_the_batches_limit(
    market: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the fit processes would run and the buyers are scored, DuckDB is held to
    ``BATCHES_ENGINE_LIMIT``; the configured limit is set again when the fit is done."""
    import threading

    from windmaker.models.clv import ClvConfig
    from windmaker.services import models

    held = Warehouse("duckdb://", memory_limit=models.BATCHES_ENGINE_LIMIT)
    held_setting = _setting(held)
    held.close()
    at_fits: list[str] = []
    at_reads_ahead: list[str] = []
    real_on_cores, real_execute = models.on_cores, Warehouse.execute

    def on_cores(*args: object, **kwargs: object) -> object:
        at_fits.append(_setting(wh))
        return real_on_cores(*args, **kwargs)  # type: ignore[arg-type]

    def execute(self: Warehouse, expr: ibis.Expr, **kwargs: object) -> object:
        if threading.current_thread().name.startswith("windmaker-read"):
            at_reads_ahead.append(_setting(self))  # the caller does not use it meanwhile
        return real_execute(self, expr, **kwargs)

    batched = market.model_copy(update={"group_batch_rows": 3_000, "memory_limit": "3GB"})
    with open_warehouse(batched) as wh:
        configured = _setting(wh)
        monkeypatch.setattr(models, "on_cores", on_cores)
        monkeypatch.setattr(Warehouse, "execute", execute)
        models.fit_clv(wh, ClvConfig(pareto_nbd=False), force=True)
        assert _setting(wh) == configured
    assert held_setting != configured
    assert at_fits == [held_setting]
    assert len(at_reads_ahead) > 1 and set(at_reads_ahead) == {held_setting}


def test_the_connection_keeps_no_frame_it_was_given() -> None:
    """A frame written, appended or read in a query is not kept by the DuckDB connection once
    the call returns (Ibis would keep each registered until the process exits: the lifetime-
    value scoring's batches then added up to gigabytes at 100M orders)."""
    import gc
    import weakref

    wh = Warehouse("duckdb://")
    frames = [pd.DataFrame({"a": range(i * 1000, (i + 1) * 1000)}) for i in range(4)]
    refs = [weakref.ref(f) for f in frames]
    wh.write("t", frames[0])
    with wh.in_parts("u") as add:
        add(frames[1])
    wh.insert("t", frames[2])
    hit = wh.execute(wh.table("t").semi_join(ibis.memtable(frames[3].head(10)), "a"))
    del frames
    gc.collect()
    assert [r() is None for r in refs] == [True] * 4
    assert int(wh.execute(wh.table("t").count())) == 2000 and hit.empty
    assert int(wh.execute(wh.table("u").count())) == 1000
    views = wh.duckdb.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()
    assert views == (0,)


def test_a_table_stored_in_parts_is_their_rows_in_one_statement(tmp_path: Path) -> None:
    """``in_parts`` inside a transaction: the table holds every part's rows (a part empty, a
    column all null in one part), its money columns typed DECIMAL(18,2) and rounded to the
    cent as :meth:`Warehouse.write` types them; the parts' file is gone afterwards. Known
    answer: the parts concatenated by hand."""
    wh = Warehouse(f"duckdb://{tmp_path / 'wh.duckdb'}")
    name = results.CLV_BUYERS
    parts = [
        pd.DataFrame(
            {"buyer_id": ["a", "b"], "segment": ["new", None], "monetary_value": [1.006, 2.0]}
        ),
        pd.DataFrame(
            {"buyer_id": pd.Series([], dtype=object), "segment": [], "monetary_value": []}
        ),
        pd.DataFrame({"buyer_id": ["c"], "segment": [None], "monetary_value": [3.456]}),
    ]
    temp = Path(wh.duckdb.execute("SELECT current_setting('temp_directory')").fetchone()[0])
    with wh.transaction(), wh.in_parts(name) as add:
        for part in parts:
            add(part)
        assert any(temp.rglob("*.parquet"))  # the parts wait on disk, not in the transaction
    got = wh.execute(wh.table(name).order_by("buyer_id"))
    assert got["buyer_id"].tolist() == ["a", "b", "c"]
    assert got["segment"].tolist()[0] == "new" and got["segment"].isna().tolist() == [
        False,
        True,
        True,
    ]
    assert str(wh.table(name).schema()["monetary_value"]) == "decimal(18, 2)"
    assert [str(v) for v in got["monetary_value"]] == ["1.01", "2.00", "3.46"]
    assert not list(temp.rglob("*.parquet"))
    views = wh.duckdb.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()
    assert views == (0,)
    wh.close()


def test_a_table_in_parts_keeps_its_columns_when_no_part_has_rows_and_nothing_on_error() -> None:
    wh = Warehouse("duckdb://")
    with wh.in_parts("t") as add:
        add(pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": pd.Series([], dtype="string")}))
    assert wh.table("t").columns == ("a", "b") and int(wh.execute(wh.table("t").count())) == 0
    with pytest.raises(RuntimeError), wh.in_parts("t") as add:
        add(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
        raise RuntimeError("the scoring failed")
    assert int(wh.execute(wh.table("t").count())) == 0  # the stored table is untouched
    wh.close()


def test_a_scoring_that_fails_leaves_no_read_under_way_and_the_stored_buyers_as_they_were(
    market: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scoring reads its next batch on a thread: when scoring a batch fails, that read has
    ended before the warehouse is used again (the scratch tables dropped), the error is the
    scoring's, and nothing of the failed run is stored."""
    import threading

    from windmaker.models import clv
    from windmaker.models.clv import ClvConfig
    from windmaker.services.models import fit_clv

    config = ClvConfig(pareto_nbd=False)
    batched = market.model_copy(update={"group_batch_rows": 3_000})
    reading = threading.Event()
    real_execute = Warehouse.execute

    def slow_execute(self: Warehouse, expr: ibis.Expr, **kwargs: object) -> object:
        if threading.current_thread().name.startswith("windmaker-read"):
            reading.set()
            threading.Event().wait(0.5)  # a read still under way when the scoring fails
        return real_execute(self, expr, **kwargs)

    def failing(*args: object, **kwargs: object) -> pd.DataFrame:
        assert reading.wait(30)
        raise RuntimeError("scoring failed")

    with open_warehouse(batched) as wh:
        before = wh.tables()
        monkeypatch.setattr(Warehouse, "execute", slow_execute)
        monkeypatch.setattr(clv, "score_buyers", failing)
        with pytest.raises(RuntimeError, match="scoring failed"):
            fit_clv(wh, config, force=True)
        alive = [t.name for t in threading.enumerate() if t.name.startswith("windmaker-read")]
        assert alive == []
        monkeypatch.undo()
        assert results.CLV_BUYERS not in wh.tables()
        assert set(wh.tables()) == set(before)


@pytest.fixture
def read_table(tmp_path: Path) -> Iterator[Warehouse]:
    """A warehouse (1 GB) opened afresh over a stored table of about 80 MB, ``t``."""
    wh = Warehouse(f"duckdb://{tmp_path / 'wh.duckdb'}", memory_limit="1GB")
    wh.duckdb.execute(
        "CREATE TABLE t AS SELECT range AS a, repeat(CAST(range AS VARCHAR), 8) AS b "
        "FROM range(3000000)"
    )
    wh.duckdb.execute("CHECKPOINT")
    wh.close()
    wh = Warehouse(f"duckdb://{tmp_path / 'wh.duckdb'}", memory_limit="1GB")
    yield wh
    wh.close()


def _setting(wh: Warehouse) -> str:
    """DuckDB's memory limit as it reports it."""
    return str(wh.duckdb.execute("SELECT current_setting('memory_limit')").fetchone()[0])


def _kept(wh: Warehouse) -> int:
    """Bytes DuckDB keeps of stored tables' blocks."""
    (n,) = wh.duckdb.execute(
        "SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
    ).fetchone()
    return int(n)


def test_the_engine_gives_back_what_it_keeps_of_the_tables_it_read(
    read_table: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a scan DuckDB keeps the table's blocks up to its limit; ``release_cache`` gives
    them back down to :data:`RELEASE_TO` (here lowered to below the table's 80 MB) and leaves
    the configured limit as it was, inside a transaction too (the main job calls it there,
    before the model fits start their processes)."""
    monkeypatch.setattr(warehouse, "RELEASE_TO", "16MB")
    wh = read_table
    limit = _setting(wh)
    with wh.atomic():
        wh.duckdb.execute("SELECT sum(a), max(b) FROM t").fetchall()
        before = _kept(wh)
        wh.release_cache()
        after = _kept(wh)
        assert _setting(wh) == limit
        assert wh.duckdb.execute("SELECT count(*) FROM t").fetchone() == (3_000_000,)
    assert before > 20 * 2**20
    assert after < before / 4
    assert Warehouse.from_backend(wh.backend).memory_limit is None  # a caller's engine: left as is


def test_the_engine_is_held_to_a_lower_limit_for_a_block(read_table: Warehouse) -> None:
    """``held_to`` evicts down to the lower limit, keeps the block's scans within it, and sets
    the configured limit again after the block, an error's too; a limit above the configured
    one, or beside a configured limit it cannot compare with, is not applied."""
    wh = read_table
    configured = _setting(wh)
    with wh.atomic():
        wh.duckdb.execute("SELECT sum(a), max(b) FROM t").fetchall()
        before = _kept(wh)
        with wh.held_to("16MB"):
            held = _kept(wh)
            assert _setting(wh) != configured
            wh.duckdb.execute("SELECT sum(a), max(b) FROM t").fetchall()
            scanned = _kept(wh)
        assert _setting(wh) == configured
    assert before > 20 * 2**20
    assert held <= 16 * 10**6 and scanned <= 16 * 10**6
    with pytest.raises(RuntimeError), wh.held_to("16MB"):
        raise RuntimeError("the block failed")
    assert _setting(wh) == configured
    with wh.held_to("2GB"):
        assert _setting(wh) == configured
    spelled = Warehouse("duckdb://", memory_limit="1 gigabytes")  # DuckDB reads it; pydantic not
    unheld = _setting(spelled)
    with spelled.held_to("16MB"):
        assert _setting(spelled) == unheld
    spelled.close()
