"""Fit the lifetime-value and paid-traffic models and store their tables, in the main job or as
a server's background job (:func:`start_fit`)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import pandas as pd

from windmaker import contract
from windmaker.config import Settings
from windmaker.models import clv, traffic
from windmaker.models.clv.fitting import warm_up
from windmaker.models.parallel import on_cores
from windmaker.results import BUDGET, CLV_BRAND, CLV_BUYERS, TRAFFIC_CURVES
from windmaker.services.configs import Configs
from windmaker.services.errors import forbidden
from windmaker.services.fit_state import current_fit, fit_key, remember_fit
from windmaker.services.identity import Principal
from windmaker.services.jobs import Job, Jobs
from windmaker.services.jobs import Progress as JobProgress
from windmaker.warehouse import Warehouse

Progress = Callable[[int, int], None]


def _quiet(_done: int, _total: int) -> None:
    return None


#: Working tables of the lifetime-value fit (every buyer's RFM summary; the rows of the
#: brands that fit their own), dropped when it is done.
_RFM_SCRATCH = "_mdl_clv_rfm"
_OWN_SCRATCH = "_mdl_clv_own"
#: DuckDB's memory limit while the lifetime-value fits and scoring read batches of whole
#: brands (the configured limit, if lower). A batch of the default 2M rows is about 130 MiB
#: once read (100M orders); what the engine kept beyond its reads, as a cache of the tables
#: they scan, took the process tree past 6 GiB at 100M orders beside the fit processes
#: (BENCHMARKS.md).
BATCHES_ENGINE_LIMIT = "1GB"
#: What each model reads, and what it stores (:mod:`windmaker.services.fit_state`).
CLV_INPUTS = (contract.ORDERS.name, contract.BRANDS.name)
CLV_OUTPUTS = (CLV_BRAND, CLV_BUYERS)
TRAFFIC_INPUTS = (contract.ORDERS.name, contract.AD_SPEND.name, contract.BRANDS.name)
TRAFFIC_OUTPUTS = (TRAFFIC_CURVES, BUDGET)
#: ``DataFrame.attrs`` key set on a fit's table when the stored fit was kept: when it was made.
UNCHANGED = "unchanged_since"


def _kept(
    wh: Warehouse,
    model: str,
    key: str,
    outputs: tuple[str, ...],
    force: bool,
    returned: int,
) -> list[pd.DataFrame] | None:
    """The first ``returned`` stored tables of a fit made under ``key`` (unless ``force``),
    marked unchanged; the others (the per-buyer table: millions of rows) are only checked to
    be there."""
    since = None if force else current_fit(wh, model, key, outputs)
    if since is None:
        return None
    tables = [wh.execute(wh.table(name)) for name in outputs[:returned]]
    for table in tables:
        table.attrs[UNCHANGED] = since
    return tables


def fit_clv(
    wh: Warehouse,
    config: clv.ClvConfig,
    end: date | None = None,
    progress: Progress = _quiet,
    *,
    force: bool = False,
) -> pd.DataFrame:
    """Fit and store ``mdl_clv_brand`` and ``mdl_clv_buyers``; returns the brand table.

    ``progress(done, total)`` follows the fits. The money columns are stored as DECIMAL(18,2)
    by the warehouse (the results contract names them). When the stored fit was made from the
    same orders, brands and settings it is kept (unless ``force``): the stored brand table is
    returned with ``attrs[UNCHANGED]`` saying when it was fitted.
    """
    orders = wh.table(contract.ORDERS.name)
    if end is None:
        last = wh.execute(orders.paid_at.max())
        if last is None or pd.isna(last):
            return pd.DataFrame()
        end = pd.Timestamp(last).date()
    key = fit_key(wh, "clv", config, end, CLV_INPUTS)
    kept = _kept(wh, "clv", key, CLV_OUTPUTS, force, returned=1)
    if kept is not None:
        return kept[0]
    # Every buyer's whole history up to ``end``: no window, so no buyer is left out.
    rfm_expr = clv.rfm_summary(orders, observation_end=end, time_unit=config.time_unit)
    wh.write(_RFM_SCRATCH, rfm_expr)
    try:
        rfm_t = wh.table(_RFM_SCRATCH)
        brands = wh.table(contract.BRANDS.name)
        # Scoring reads net GMV as a float: cast in the engine, not one Decimal at a time.
        scored = rfm_t.mutate(net_gmv=rfm_t.net_gmv.cast("float64"))
        if wh.engine == "pyspark":
            table = _clv_on_cluster(wh, rfm_t, brands, scored, config, end, progress)
        else:
            # From here the engine reads batches of whole brands: it is held to what they
            # need, and the fit processes and the batches in hand have the rest.
            with wh.held_to(BATCHES_ENGINE_LIMIT):
                fits = _clv_fits_here(wh, rfm_t, brands, config, progress)
                # Brand by brand, in batches of whole brands (half the warehouse's
                # group_batch_rows, since they are read ahead): memory does not grow with the
                # market. A brand's summary needs only its own buyers.
                summaries = []
                # The next batch is read, and the last one stored, while this one is scored.
                # The batches are closed first, even on an error: no read is then under way
                # when the parts' table is made or the scratch table dropped.
                batches = wh.in_group_batches(scored, "brand_id", empty=True, ahead=True)
                with wh.in_parts(CLV_BUYERS) as store, contextlib.closing(batches):
                    for batch in batches:
                        buyers = clv.score_buyers(batch, fits, config, end)
                        store(buyers)
                        summaries.append(clv.buyer_summary(buyers, config))
            table = clv.brand_table_of(fits, pd.concat(summaries), config, end)
    finally:
        wh.drop(_RFM_SCRATCH)
    wh.write(CLV_BRAND, table)
    remember_fit(wh, "clv", key)
    return table


@dataclass
class _ClvPlan:
    """What both ways of fitting a market share: the plan, the pooled fits' inputs (cells the
    engine aggregated, read only when :meth:`pooled` is walked), and the rows of the brands
    that fit their own (``own``: each brand's RFM cells and repeat buyers' spend, as
    :func:`clv.fit_group` reads them)."""

    plan: clv.MarketPlan
    cells: ibis.Table
    spend: ibis.Table
    own: ibis.Table
    total: int

    def pooled(self, wh: Warehouse) -> Iterator[clv.Pooled]:
        """The pooled fits' inputs, the market's first (the longest fit).

        Each kind is read in one query for every category at once (one scan of the buyers,
        not two a category), and the repeat buyers alike in (frequency, spend) come as one
        weighted row: the same likelihood on 3.7 times fewer rows at 21M orders. Read a
        category at a time and a buyer a row, these inputs took the 100M run past 6 GiB.
        """
        repeat, spend = self.plan.pooled_repeat, self.plan.pooled_spend
        cells = _pooled_rows(wh, self.cells, _CELL, ibis._.buyers.sum(), repeat)
        spent = _pooled_rows(wh, self.spend, _SPEND, ibis._.count(), spend)
        for key in sorted(repeat | spend, key=lambda k: (k != clv.MARKET, k)):
            yield clv.Pooled(
                key,
                _in_scope(cells, key, _CELL) if key in repeat else None,
                _in_scope(spent, key, _SPEND) if key in spend else None,
            )


_CELL = ["frequency", "recency", "T"]
_SPEND = ["frequency", "monetary_value"]


def _pooled_rows(
    wh: Warehouse, t: ibis.Table, by: list[str], weight: Any, keys: set[clv.Key]
) -> pd.DataFrame | None:
    """``t`` summed to (category, *by) with ``buyers``, for the categories of ``keys`` (every
    category when the market is one of them; no category reads as "", as in the plan)."""
    if not keys:
        return None
    t = t.mutate(category=t.category.fill_null(""))
    if clv.MARKET not in keys:
        t = t.filter(t.category.isin(sorted(k[1] for k in keys)))
    return wh.execute(t.group_by(["category", *by]).aggregate(buyers=weight))


def _in_scope(rows: pd.DataFrame | None, key: clv.Key, by: list[str]) -> pd.DataFrame:
    """The rows of ``key``'s category (all of them for the market), summed over ``by``."""
    assert rows is not None  # read for every key that needs them
    part = rows if key == clv.MARKET else rows[rows["category"] == key[1]]
    return part.groupby(by, as_index=False, sort=True)["buyers"].sum()


def _plan_clv(
    wh: Warehouse, rfm: ibis.Table, brands: ibis.Table, config: clv.ClvConfig
) -> _ClvPlan:
    cells = clv.rfm_cells(rfm, brands)
    spend = clv.repeat_spend(rfm, brands)
    per_brand = cells.group_by("brand_id").aggregate(
        category=cells.category.max(), buyers=cells.buyers.sum()
    )
    repeat = spend.group_by("brand_id").aggregate(repeat_buyers=spend.count())
    summary = wh.execute(
        per_brand.left_join(repeat, "brand_id").select(
            "brand_id", "category", "buyers", repeat_buyers=ibis.coalesce(repeat.repeat_buyers, 0)
        )
    ).set_index("brand_id")
    # in brand order, as the in-memory fit orders its summary: the same plan, the same table
    plan = clv.plan_market(summary.sort_index(), config)
    total = len(plan.own_repeat) + len(plan.pooled_repeat | plan.pooled_spend)
    # The brands' own fits: only the groups that need one travel (thresholds as in the plan).
    n_buyers = cells.buyers.sum().over(group_by=cells.brand_id)
    n_repeat = spend.count().over(group_by=spend.brand_id)
    null_f, null_i = ibis.null("float64"), ibis.null("int64")
    own = ibis.union(
        cells.filter(n_buyers >= config.min_buyers).select(
            "brand_id",
            part=ibis.literal(clv.PART_CELLS),
            frequency=cells.frequency,
            recency=cells.recency,
            T=cells["T"],
            buyers=cells.buyers.cast("int64"),
            monetary_value=null_f,
        ),
        spend.filter(n_repeat >= config.min_repeat_buyers).select(
            "brand_id",
            part=ibis.literal(clv.PART_SPEND),
            frequency=spend.frequency,
            recency=null_f,
            T=null_f,
            buyers=null_i,
            monetary_value=spend.monetary_value,
        ),
    )
    return _ClvPlan(plan, cells, spend, own, total)


def _clv_fits_here(
    wh: Warehouse, rfm: ibis.Table, brands: ibis.Table, config: clv.ClvConfig, progress: Progress
) -> list[clv.BrandClv]:
    """Every brand's fits on this machine's cores, with memory bounded by the warehouse's
    ``group_batch_rows``: the pooled fits go to the fit processes first, then the brands'
    rows, read in batches of whole brands, the largest brands first, and handed to the
    processes as they take them (a market's cells and spend read whole held 9 GB at 100M
    orders). The fits are those of :func:`clv.fit_market` on the same rows."""
    p = _plan_clv(wh, rfm, brands, config)
    # The brands' rows are aggregated once, not again for every batch.
    wh.write(_OWN_SCRATCH, p.own, scratch=True)
    try:
        own = wh.table(_OWN_SCRATCH)

        def items() -> Iterator[clv.FitTask | clv.Pooled]:
            yield from p.pooled(wh)
            for batch in wh.in_group_batches(own, "brand_id", largest_first=True):
                # largest first: a pool handing out one brand at a time then ends on short ones
                yield from clv.own_tasks(batch, config)

        fitted: dict[clv.Key, clv.Fits] = {}
        done = 0
        fit = functools.partial(clv.fit_item, config=config)
        heavy = len(p.plan.own_repeat) + len(p.plan.pooled_repeat | p.plan.pooled_spend)
        for key, repeat, spend in on_cores(fit, items(), config.workers, heavy=heavy, warm=warm_up):
            fitted[key] = (repeat, spend)
            if key[0] != "brand" or repeat is not None:  # None: spend only
                done += 1
                progress(done, p.total)
    finally:
        wh.drop(_OWN_SCRATCH)
    progress(p.total, p.total)
    return clv.assemble(p.plan, fitted, config)


def _clv_on_cluster(
    wh: Warehouse,
    rfm: ibis.Table,
    brands: ibis.Table,
    scored: ibis.Table,
    config: clv.ClvConfig,
    end: date,
    progress: Progress,
) -> pd.DataFrame:
    """Lifetime value where the buyers are: on a cluster, through the engine's per-group map.

    Each brand's own fits run on an executor (``Warehouse.map_groups``: one brand per group,
    its RFM cells and repeat buyers' spend in, one row of parameters out); the pooled fits of
    thin categories, and of the market when one is too thin even pooled, run here on cells
    aggregated in the engine; the buyers are scored brand by brand on the executors and stored
    there, and only their per-brand summary comes back. Stores ``mdl_clv_buyers`` and returns
    the brand table (the same rows :func:`clv.fit_market` and :func:`clv.brand_table` make in
    one process).
    """
    p = _plan_clv(wh, rfm, brands, config)
    fitted: dict[clv.Key, clv.Fits] = {}
    for pooled in p.pooled(wh):  # here, on cells the engine aggregated
        fitted[pooled.key] = clv.fit_pooled(pooled, config)
        progress(len(fitted), p.total)
    rows = wh.map_groups(
        p.own, "brand_id", functools.partial(clv.fit_group, config=config), clv.FIT_ROW_COLUMNS
    )
    assert rows is not None
    fitted.update(clv.fits_from_rows(rows))
    progress(p.total, p.total)
    fits = clv.assemble(p.plan, fitted, config)
    wh.map_groups(
        scored,
        "brand_id",
        functools.partial(clv.score_buyers, fits=fits, config=config, observation_end=end),
        clv.buyer_columns(config),
        into=CLV_BUYERS,
    )
    stored = wh.table(CLV_BUYERS)
    # The stored money columns are exact decimals; the summary averages them as floats, as the
    # one-process path does before storing.
    stored = stored.mutate(
        **{c: stored[c].cast("float64") for c, t in stored.schema().items() if t.is_decimal()}
    )
    per_buyer = wh.map_groups(
        stored,
        "brand_id",
        _brand_summary(config),
        clv.summary_columns(config),
    )
    assert per_buyer is not None
    return clv.brand_table_of(fits, per_buyer.set_index("brand_id"), config, end)


def _brand_summary(config: clv.ClvConfig) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return functools.partial(_summary_rows, config=config)


def _summary_rows(buyers: pd.DataFrame, config: clv.ClvConfig) -> pd.DataFrame:
    return clv.buyer_summary(buyers, config).reset_index()


def fit_traffic(
    wh: Warehouse,
    config: traffic.TrafficConfig,
    end: date | None = None,
    progress: Progress = _quiet,
    *,
    force: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit and store ``mdl_traffic_curves`` and ``mdl_budget`` (``progress`` and ``force`` as
    in fit_clv; a kept fit's tables carry ``attrs[UNCHANGED]``)."""
    ads = wh.table(contract.AD_SPEND.name)
    if end is None:
        last = wh.execute(ads.date.max())
        if last is None or pd.isna(last):
            return pd.DataFrame(), pd.DataFrame()
        end = pd.Timestamp(last).date()
    key = fit_key(wh, "traffic", config, end, TRAFFIC_INPUTS)
    kept = _kept(wh, "traffic", key, TRAFFIC_OUTPUTS, force, returned=2)
    if kept is not None:
        return kept[0], kept[1]
    start = end - timedelta(days=config.history_days - 1)
    daily = wh.execute(
        traffic.daily_paid(wh.table(contract.ORDERS.name), ads, start=start, end=end)
    )
    brands = wh.execute(wh.table(contract.BRANDS.name).select("brand_id", "category"))
    wh.release_cache()  # the fit processes start beside this one: give back the cache
    curves_table, curves = traffic.fit_market(
        daily, brands, config, start=start, end=end, progress=progress
    )
    if curves_table.empty:
        return curves_table, pd.DataFrame()
    curves_table.insert(2, "period_end", end)
    budget = traffic.recommend_budgets(curves_table, curves, config)
    wh.write(TRAFFIC_CURVES, curves_table)
    wh.write(BUDGET, budget)
    remember_fit(wh, "traffic", key)
    return curves_table, budget


def fit_models(
    wh: Warehouse, config: clv.ModelsConfig, progress: JobProgress | None = None
) -> dict[str, Any]:
    """Fit both models (lifetime value, then traffic curves) and store their tables; a model
    whose stored fit was made from the same data and settings is kept, not fitted again.

    ``progress(fraction, step)`` follows the fits brand by brand (lifetime value to 0.6,
    traffic to 0.9 of the whole); the main job passes none (it shows its own progress).
    Returns the number of brands with a lifetime-value fit and with a traffic curve, and the
    models kept unchanged (``unchanged``).
    """
    report = progress or (lambda _f, _s: None)

    def part(start: float, width: float, step: str) -> Progress:
        return lambda done, total: report(start + width * done / max(total, 1), step)

    report(0.0, "clv")
    table = fit_clv(wh, config.clv, progress=part(0.0, 0.6, "clv"))
    report(0.6, "traffic")
    curves, _ = fit_traffic(wh, config.traffic, progress=part(0.6, 0.3, "traffic"))
    unchanged = [
        model for model, t in (("clv", table), ("traffic", curves)) if UNCHANGED in t.attrs
    ]
    return {"clv_brands": len(table), "traffic_curves": len(curves), "unchanged": unchanged}


#: The job kind of a model fit on a server (its own pool: a fit never waits behind an upload).
FIT_JOB_KIND = "fit"


def refit(
    settings: Settings,
    configs: Configs | None = None,
    *,
    progress: JobProgress | None = None,
    warehouse_factory: Callable[[], Warehouse] | None = None,
) -> dict[str, Any]:
    """Fit both models on the warehouse as it is, then diagnose again so the ladder and the
    pages read the fitted scores; one transaction, so readers see the old models or the new.
    When both stored fits were kept (same data, same settings) the stored diagnosis already
    reads them and is not made again.

    ``progress(fraction, step)`` follows the fits brand by brand (lifetime value, then
    traffic), then the diagnosis.
    """
    from windmaker.services.diagnose import run_diagnosis
    from windmaker.workspace import open_warehouse

    report = progress or (lambda _f, _s: None)
    cfg = (configs or Configs.of(settings)).check(("models", "metrics", "ladder", "playbook"))
    factory = warehouse_factory or (lambda: open_warehouse(settings))
    with factory() as wh, wh.atomic():
        fitted = fit_models(wh, cfg.models, report)
        if len(fitted["unchanged"]) < 2:
            report(0.9, "diagnosis")
            run_diagnosis(wh, cfg)
    report(1.0, "done")
    return fitted


def start_fit(
    jobs: Jobs,
    settings: Settings,
    actor: Principal,
    *,
    configs: Configs | None = None,
    warehouse_factory: Callable[[], Warehouse] | None = None,
    after: Callable[[], None] | None = None,
) -> Job:
    """Fit the models in the background for ``actor`` (staff only), or return the fit already
    running; ``after`` runs once the fitted tables are stored (the server reloads its read
    model, so the pages fill in)."""
    if actor.role not in ("admin", "operator"):
        raise forbidden()

    def work(progress: JobProgress) -> dict[str, Any]:
        fitted = refit(settings, configs, progress=progress, warehouse_factory=warehouse_factory)
        if after is not None:
            after()
        return dict(fitted)

    return jobs.start(FIT_JOB_KIND, work, owner=actor)
