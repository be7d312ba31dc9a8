"""Lifetime value on DuckDB fits a market brand batch by brand batch, with its memory bounded by
``group_batch_rows``, and the fits are those of the whole market read at once.

Known answer: :func:`windmaker.models.clv.fit_market` on the market's RFM cells and repeat
buyers' spend read whole into this process, on one core (the in-memory fit the main job made
before). The main job's way (``services.models``) reads the brands' rows in batches of at most
a few thousand rows and hands them to two worker processes as they take them; on the
simulator's small market (100 brands × 3 months) every brand must get the same fit level,
model, parameters and log-likelihoods (to 1e-9; the pooled spend fits to 1e-6, the fits' own
reproducibility, since the engine may hand their rows over in another order).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

from windmaker import contract
from windmaker.models import clv
from windmaker.models.parallel import MIN_PER_WORKER
from windmaker.services import models as fit_service
from windmaker.warehouse import Warehouse

BATCH_ROWS = 3_000


def test_brands_fitted_batch_by_batch_on_two_processes_equal_the_market_read_whole(
    small_simulated_market: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = Warehouse(f"duckdb://{tmp_path / 'wh.duckdb'}", group_batch_rows=BATCH_ROWS)
    for name in (contract.ORDERS.name, contract.BRANDS.name):
        wh.write(name, pd.read_parquet(small_simulated_market / f"{name}.parquet"))
    orders, brands = wh.table(contract.ORDERS.name), wh.table(contract.BRANDS.name)
    buyers = wh.execute(orders.group_by("brand_id").aggregate(n=ibis._.buyer_id.nunique()))
    # A threshold between the brands' sizes: some brands fit their own buyers, the rest pool.
    config = clv.ClvConfig(
        min_buyers=int(np.median(buyers["n"])) // 2, min_repeat_buyers=20, workers=2
    )
    end = pd.Timestamp(wh.execute(orders.paid_at.max())).date()
    rfm = clv.rfm_summary(orders, observation_end=end, time_unit=config.time_unit)

    cells = wh.execute(clv.rfm_cells(rfm, brands))
    spend = wh.execute(clv.repeat_spend(rfm, brands))
    want = clv.fit_market(cells, spend, config.model_copy(update={"workers": 1}))

    read: list[tuple[int, int]] = []  # (rows, brands) of every read of the brands' rows
    real = wh.execute

    def execute(expr: ibis.Expr) -> pd.DataFrame:
        out = real(expr)
        if isinstance(out, pd.DataFrame) and "part" in out:
            read.append((len(out), out["brand_id"].nunique()))
        return out

    wh.execute = execute  # type: ignore[method-assign]
    handed: list[clv.Pooled | clv.FitTask] = []  # what the pool got, in order
    real_on_cores = fit_service.on_cores

    def on_cores(fn: Any, items: Iterable[Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
        def seen() -> Iterator[Any]:
            for item in items:
                handed.append(item)
                yield item

        return real_on_cores(fn, seen(), *args, **kwargs)

    monkeypatch.setattr(fit_service, "on_cores", on_cores)
    got = fit_service._clv_fits_here(wh, rfm, brands, config, lambda _d, _t: None)

    own = [f for f in want if f.repeat_level == "brand"]
    assert len(own) >= 2 * MIN_PER_WORKER  # enough brands of their own for the two processes
    assert {f.repeat_level for f in want} - {"brand"}  # and some pooled ones
    assert {f.spend_level for f in want} - {"brand"}  # pooled spend too (read as weighted rows)
    # whole brands up to the limit; a brand larger than the limit is read alone
    assert len(read) > 3 and all(n <= BATCH_ROWS or k == 1 for n, k in read), read
    # The pooled fits go to the same processes, first; then the brands, the largest first
    # across batches too, so the pool does not end on a large brand while a worker idles.
    pooled = [i for i, item in enumerate(handed) if isinstance(item, clv.Pooled)]
    assert pooled and pooled == list(range(len(pooled))), pooled
    brand_tasks = handed[len(pooled) :]
    assert all(isinstance(t, clv.FitTask) and t.key[0] == "brand" for t in brand_tasks)
    assert len({t.key for t in brand_tasks}) == len(brand_tasks)  # one task a brand
    # a brand's rows: its cells and its repeat buyers, each read only when it fits its own
    sizes = [
        sum(len(part.frequency) for part in (t.cells, t.spend) if part is not None)
        for t in brand_tasks
        if isinstance(t, clv.FitTask)
    ]
    assert sizes == sorted(sizes, reverse=True), sizes
    assert [f.brand_id for f in got] == [f.brand_id for f in want]
    for g, w in zip(got, want, strict=True):
        assert (g.repeat_level, g.spend_level, g.buyers, g.repeat_buyers) == (
            w.repeat_level,
            w.spend_level,
            w.buyers,
            w.repeat_buyers,
        ), w.brand_id
        assert g.repeat.model == w.repeat.model, w.brand_id
        assert g.repeat.params == pytest.approx(w.repeat.params, rel=1e-9), w.brand_id
        assert g.repeat.loglik == pytest.approx(w.repeat.loglik, rel=1e-9), w.brand_id
        assert (g.spend is None) == (w.spend is None), w.brand_id
        if g.spend is not None and w.spend is not None:
            rel = 1e-9 if w.spend_level == "brand" else 1e-6
            got_spend = (g.spend.p, g.spend.q, g.spend.gamma, g.spend.loglik)
            want_spend = (w.spend.p, w.spend.q, w.spend.gamma, w.spend.loglik)
            assert got_spend == pytest.approx(want_spend, rel=rel), w.brand_id
    wh.close()


def _square(x: int) -> int:
    return x * x


def test_the_pool_reads_its_items_as_the_workers_take_them() -> None:
    """``on_cores`` on two processes reads a generator at most ``AHEAD`` items per worker
    ahead of the results it has given back (the standard library's map reads it to the end
    before the first result), and gives every result, in order."""
    from windmaker.models.parallel import AHEAD, on_cores

    read = 0

    def items() -> Iterator[int]:
        nonlocal read
        for i in range(60):
            read += 1
            yield i

    ahead = []
    out = []
    for i, y in enumerate(on_cores(_square, items(), 2, heavy=60, min_per_worker=1)):
        ahead.append(read - i)
        out.append(y)
    assert out == [i * i for i in range(60)]
    assert max(ahead) <= AHEAD * 2, ahead
