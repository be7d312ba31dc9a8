"""A whole market: every brand fitted (or given its category's or the market's fit when thin),
its buyers scored, and the per-brand table of parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from windmaker.models.clv.config import SEGMENTS, ClvConfig
from windmaker.models.clv.fitting import (
    RepeatFit,
    SpendFit,
    fit_gamma_gamma,
    fit_repeat,
    warm_up,
)
from windmaker.models.clv.plan import (
    MARKET,
    BrandClv,
    Fits,
    Key,
    assemble,
    brand_summary,
    fit_rows,
    plan_market,
)
from windmaker.models.clv.scoring import (
    expected_purchases,
    gamma_gamma_expected_spend,
    p_alive,
    segment_buyers,
)
from windmaker.models.parallel import on_cores


def fit_market(
    cells: pd.DataFrame,
    spend: pd.DataFrame,
    config: ClvConfig,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[BrandClv]:
    """Fit every brand with at least ``min_buyers`` buyers; the rest get their category's fit.

    ``cells`` is :func:`rfm_cells` executed (brand_id, category, frequency, recency, T, buyers);
    ``spend`` is :func:`repeat_spend` executed. A category with too few buyers in total falls back
    to the whole market's fit (:func:`~windmaker.models.clv.plan.plan_market`). Every fit reuses
    the same compiled likelihoods, on ``config.workers`` processes.
    """
    cells = cells.assign(category=cells["category"].fillna("")).reset_index(drop=True)
    spend = spend.assign(category=spend["category"].fillna("")).reset_index(drop=True)
    plan = plan_market(brand_summary(cells, spend), config)

    def task(key: Key, c: pd.DataFrame | None, s: pd.DataFrame | None) -> FitTask:
        return FitTask(key, c, s, config.pareto_nbd, config.pareto_min_loglik_gain)

    # The pooled fits of thin categories (or of the whole market) go to the same workers as
    # the brands' own fits, the largest first: the market's pooled fit is the longest one.
    pooled: dict[Key, FitTask] = {}
    for key in sorted(plan.pooled_repeat | plan.pooled_spend, key=lambda k: k != MARKET):
        scope_c = cells if key == MARKET else cells[cells["category"] == key[1]]
        scope_s = spend if key == MARKET else spend[spend["category"] == key[1]]
        pooled[key] = task(
            key,
            scope_c if key in plan.pooled_repeat else None,
            scope_s if key in plan.pooled_spend else None,
        )
    by_brand_cells = dict(tuple(cells.groupby("brand_id", sort=False)))
    by_brand_spend = dict(tuple(spend.groupby("brand_id", sort=False)))
    tasks = list(pooled.values()) + [
        task(
            ("brand", str(b)),
            by_brand_cells[b] if str(b) in plan.own_repeat else None,
            by_brand_spend[b] if str(b) in plan.own_spend else None,
        )
        # largest first: a pool handing out one task at a time then ends on short ones
        for b in plan.summary.sort_values("buyers", ascending=False, kind="stable").index
        if str(b) in plan.own_repeat or str(b) in plan.own_spend
    ]
    heavy = sum(t.cells is not None for t in tasks)
    total = len(plan.own_repeat) + len(pooled)
    done = 0
    fitted: dict[Key, Fits] = {}
    for key, rfit_one, sfit_one in on_cores(
        _fit_one, tasks, config.workers, heavy=heavy, warm=warm_up
    ):
        fitted[key] = (rfit_one, sfit_one)
        if key[0] != "brand" or rfit_one is not None:
            done += 1
            if progress is not None:
                progress(done, total)
    return assemble(plan, fitted, config)


@dataclass(frozen=True)
class RepeatInput:
    """The repeat model's input: distinct (frequency, recency, T) cells in that order, and how
    many buyers each holds."""

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    buyers: np.ndarray


@dataclass(frozen=True)
class SpendInput:
    """Gamma-Gamma's input: repeat buyers' (frequency, monetary_value) in that order, each row
    one buyer or, with ``buyers``, that many buyers alike."""

    frequency: np.ndarray
    monetary_value: np.ndarray
    buyers: np.ndarray | None


def _repeat_input(df: pd.DataFrame) -> RepeatInput:
    g = df.groupby(["frequency", "recency", "T"], as_index=False)["buyers"].sum()
    return RepeatInput(*(_floats(g[c]) for c in ("frequency", "recency", "T", "buyers")))


def _spend_input(df: pd.DataFrame) -> SpendInput:
    # In a fixed order: where the likelihood is flat (spend nearly alike, p and q drifting
    # together) the optimiser's stopping point moves with the order of the sum, and the rows of
    # a group come in whatever order the engine read them.
    df = df.sort_values(["frequency", "monetary_value"], kind="stable")
    weights = _floats(df["buyers"]) if "buyers" in df else None
    return SpendInput(_floats(df["frequency"]), _floats(df["monetary_value"]), weights)


def _floats(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass(frozen=True)
class FitTask:
    """One brand's own fits, or a thin category's (or the market's) pooled fits: the RFM cells
    to fit the repeat model on and the repeat buyers' spend, each None when not fitted here.
    ``key`` is ("brand", id), ("category", name) or ("market", ""). Given as frames (those of
    :func:`rfm_cells` and :func:`repeat_spend`), they are made into the fits' inputs here."""

    key: Key
    cells: RepeatInput | pd.DataFrame | None
    spend: SpendInput | pd.DataFrame | None
    try_pareto: bool
    min_gain: float

    def __post_init__(self) -> None:
        if isinstance(self.cells, pd.DataFrame):
            object.__setattr__(self, "cells", _repeat_input(self.cells))
        if isinstance(self.spend, pd.DataFrame):
            object.__setattr__(self, "spend", _spend_input(self.spend))


def _repeat_fit(cells: RepeatInput, try_pareto: bool, min_gain: float) -> RepeatFit:
    return fit_repeat(
        cells.frequency,
        cells.recency,
        cells.T,
        cells.buyers,
        try_pareto=try_pareto,
        min_gain=min_gain,
    )


def _spend_fit(spend: SpendInput) -> SpendFit | None:
    """Gamma-Gamma on the repeat buyers, when there are two or more."""
    if (spend.buyers.sum() if spend.buyers is not None else len(spend.frequency)) < 2:
        return None
    return fit_gamma_gamma(spend.frequency, spend.monetary_value, spend.buyers)


def _fit_one(task: FitTask) -> tuple[Key, RepeatFit | None, SpendFit | None]:
    """One task's fits (in a worker process when the market is fitted on several cores)."""
    cells, spend = task.cells, task.spend
    assert not isinstance(cells, pd.DataFrame) and not isinstance(spend, pd.DataFrame)
    rfit = _repeat_fit(cells, task.try_pareto, task.min_gain) if cells is not None else None
    sfit = _spend_fit(spend) if spend is not None else None
    return task.key, rfit, sfit


@dataclass(frozen=True)
class Pooled:
    """A thin category's (or the market's) pooled inputs: its RFM cells (frequency, recency,
    T, buyers) and its repeat buyers' spend (frequency, monetary_value, and buyers: how many
    share them), each None when that fit is not needed. ``key`` is ("category", name) or
    :data:`MARKET`."""

    key: Key
    cells: pd.DataFrame | None
    spend: pd.DataFrame | None


def fit_pooled(pooled: Pooled, config: ClvConfig) -> Fits:
    """A category's (or the market's) pooled fits."""
    _, rfit, sfit = _fit_one(
        FitTask(
            pooled.key, pooled.cells, pooled.spend, config.pareto_nbd, config.pareto_min_loglik_gain
        )
    )
    return rfit, sfit


def fit_item(
    item: FitTask | Pooled, config: ClvConfig
) -> tuple[Key, RepeatFit | None, SpendFit | None]:
    """One of a market's fits, as (key, repeat fit, spend fit): a brand's own fits
    (:func:`own_tasks`) or a pooled fit, so that one pool of fit processes takes both, the
    pooled ones first (the market's pooled fit is the longest, as in :func:`fit_market`). The
    fits cross back from a worker as they are: made into a one-row frame there and read back
    here, they cost 3 ms a brand, more than a BG/NBD fit."""
    if isinstance(item, Pooled):
        return (item.key, *fit_pooled(item, config))
    return _fit_one(item)


def own_tasks(rows: pd.DataFrame, config: ClvConfig) -> list[FitTask]:
    """The own fits of the brands whose rows (:func:`fit_group`'s, whole brands) ``rows``
    holds, the brand with the most rows first: the inputs :func:`fit_group` makes of each
    brand's rows, made in one pass over the rows' arrays. Split brand by brand in pandas, then
    grouped and sorted in the fit processes, they cost more than most brands' BG/NBD fits. A
    brand's cells are distinct (:func:`rfm_cells` groups by them), so ordering them is what
    grouping them does."""
    codes, names = pd.factorize(rows["brand_id"])
    part = rows["part"].to_numpy(dtype=object)
    f, rec, t = (_floats(rows[c]) for c in ("frequency", "recency", "T"))
    w, mv = _floats(rows["buyers"]), _floats(rows["monetary_value"])
    cell_rows = np.flatnonzero(part == PART_CELLS)
    cell_rows = cell_rows[
        np.lexsort((t[cell_rows], rec[cell_rows], f[cell_rows], codes[cell_rows]))
    ]
    spend_rows = np.flatnonzero(part == PART_SPEND)
    # in (frequency, monetary_value) order, as fit_group sorts them
    spend_rows = spend_rows[np.lexsort((mv[spend_rows], f[spend_rows], codes[spend_rows]))]
    n = len(names)
    cell_at = np.searchsorted(codes[cell_rows], np.arange(n + 1))
    spend_at = np.searchsorted(codes[spend_rows], np.arange(n + 1))
    tasks = []
    for k in np.argsort(-np.bincount(codes, minlength=n), kind="stable"):
        c = cell_rows[cell_at[k] : cell_at[k + 1]]
        sp = spend_rows[spend_at[k] : spend_at[k + 1]]
        own_cells = (
            RepeatInput(f[c], rec[c], t[c], w[c]) if w[c].sum() >= config.min_buyers else None
        )
        own_spend = SpendInput(f[sp], mv[sp], None) if len(sp) >= config.min_repeat_buyers else None
        tasks.append(
            FitTask(
                ("brand", str(names[k])),
                own_cells,
                own_spend,
                config.pareto_nbd,
                config.pareto_min_loglik_gain,
            )
        )
    return tasks


def buyer_columns(config: ClvConfig) -> dict[str, str]:
    """The columns of :func:`score_buyers`'s frame (``mdl_clv_buyers``) and their types."""
    horizons = {
        f"expected_{what}_{h}d": "float64"
        for h in config.horizons_days
        for what in ("purchases", "value")
    }
    return {
        "brand_id": "string",
        "buyer_id": "string",
        "frequency": "int64",
        "recency": "float64",
        "T": "float64",
        "monetary_value": "float64",
        "p_alive": "float64",
        **horizons,
        "segment": "string",
        "last_purchase": "date",
    }


def summary_columns(config: ClvConfig) -> dict[str, str]:
    """The columns of :func:`buyer_summary` with brand_id, and their types."""
    out = {"brand_id": "string", "p_alive_mean": "float64"}
    out |= {f"expected_purchases_{h}d": "float64" for h in config.horizons_days}
    out |= {f"value_per_buyer_{h}d": "float64" for h in config.horizons_days}
    for s in SEGMENTS:
        out |= {f"{s}_buyers": "int64", f"{s}_value_365d": "float64"}
    return out


#: The part a row of :func:`fit_group`'s input belongs to.
PART_CELLS, PART_SPEND = "cells", "spend"


def fit_group(rows: pd.DataFrame, config: ClvConfig) -> pd.DataFrame:
    """One brand's own fits as one row of :data:`~windmaker.models.clv.plan.FIT_ROW_COLUMNS`,
    for a cluster's per-group map: ``rows`` are the brand's RFM cells (``part`` =
    :data:`PART_CELLS`: frequency, recency, T, buyers) and its repeat buyers' spend
    (:data:`PART_SPEND`: frequency, monetary_value), each fitted when the brand has
    ``min_buyers`` buyers or ``min_repeat_buyers`` repeat buyers, as in :func:`fit_market`."""
    return fit_rows([_fit_one(_group_task(rows, config))])


def _group_task(rows: pd.DataFrame, config: ClvConfig) -> FitTask:
    """A brand's own fits from its rows (those of :func:`fit_group`)."""
    brand = str(rows["brand_id"].iloc[0])
    cells = rows[rows["part"] == PART_CELLS]
    spend = rows[rows["part"] == PART_SPEND].drop(columns="buyers")  # one row a buyer
    own_cells = cells if cells["buyers"].sum() >= config.min_buyers else None
    own_spend = spend if len(spend) >= config.min_repeat_buyers else None
    return FitTask(
        ("brand", brand), own_cells, own_spend, config.pareto_nbd, config.pareto_min_loglik_gain
    )


def score_buyers(
    rfm: pd.DataFrame, fits: Sequence[BrandClv], config: ClvConfig, observation_end: date
) -> pd.DataFrame:
    """Per buyer: P(alive), expected purchases and value over each horizon, and the segment.

    ``rfm`` is :func:`rfm_summary` executed. Expected value over h days = expected purchases
    × Gamma-Gamma expected spend per occasion (undiscounted yuan).
    """
    unit = config.unit_days
    by_brand = {f.brand_id: f for f in fits}
    # Each brand's buyers are scored on its slice of whole-batch arrays, and the batch's frame
    # is made once: a frame a brand, with its ids copied out of Arrow and back, cost more than
    # the scoring (21 s for 7.5M buyers at 21M orders). The rows come in the order a group-by
    # without sorting gives: brands by first appearance, each brand's rows in their order.
    codes, names = pd.factorize(rfm["brand_id"])
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    x_all = rfm["frequency"].to_numpy(dtype=float)
    tx_all = rfm["recency"].to_numpy(dtype=float)
    tt_all = rfm["T"].to_numpy(dtype=float)
    mv_all = rfm["monetary_value"].to_numpy(dtype=float)
    alive_all = np.empty(len(rfm))
    spend_all = np.empty(len(rfm))
    expected_all = {h: np.empty(len(rfm)) for h in config.horizons_days}
    net_all: np.ndarray | None = None  # read once, by the first brand without a spend fit
    kept = []
    for k, brand in enumerate(names):
        fit = by_brand.get(str(brand))
        if fit is None:
            continue
        idx = order[bounds[k] : bounds[k + 1]]
        x, tx, tt, mv = x_all[idx], tx_all[idx], tt_all[idx], mv_all[idx]
        alive_all[idx] = p_alive(fit.repeat, x, tx, tt)
        if fit.spend is not None and fit.spend.q > 1:
            spend = gamma_gamma_expected_spend(x, mv, fit.spend.p, fit.spend.q, fit.spend.gamma)
        else:
            if net_all is None:
                net_all = rfm["net_gmv"].to_numpy(dtype=float)
            spend = np.where(x > 0, mv, net_all[idx] - np.nan_to_num(mv) * x)
        spend_all[idx] = spend
        for h in config.horizons_days:
            expected_all[h][idx] = expected_purchases(fit.repeat, h / unit, x, tx, tt)
        kept.append(idx)
    if not kept:
        return pd.DataFrame()
    rows = np.concatenate(kept)
    x, alive = x_all[rows], alive_all[rows]
    out = pd.DataFrame(
        {
            "brand_id": rfm["brand_id"].array.take(rows),
            "buyer_id": rfm["buyer_id"].array.take(rows),
            "frequency": x.astype(np.int64),
            "recency": tx_all[rows],
            "T": tt_all[rows],
            "monetary_value": mv_all[rows],
            "p_alive": alive,
        }
    )
    for h in config.horizons_days:
        e = expected_all[h][rows]
        out[f"expected_purchases_{h}d"] = e
        out[f"expected_value_{h}d"] = e * spend_all[rows]
    out["segment"] = segment_buyers(x, alive, tt_all[rows] * unit, config.segments)
    # Days as Arrow dates, not Python ``date`` objects: two million of those cost 0.4 s to make
    # and as much again to turn back into Arrow when the part is stored.
    days = pd.to_datetime(rfm["last_purchase"]).to_numpy()[rows].astype("datetime64[D]")
    out["last_purchase"] = pd.array(
        pa.array(days, type=pa.date32()), dtype=pd.ArrowDtype(pa.date32())
    )
    return out


def buyer_summary(buyers: pd.DataFrame, config: ClvConfig) -> pd.DataFrame:
    """Per brand (index brand_id): the means of P(alive), expected purchases and value per
    buyer over each horizon, and each segment's buyers and expected value over a year — the
    per-buyer part of ``mdl_clv_brand``. On a cluster it runs on each brand's group of scored
    buyers; in one process on all of them."""
    columns = [
        "p_alive_mean",
        *(f"expected_purchases_{h}d" for h in config.horizons_days),
        *(f"value_per_buyer_{h}d" for h in config.horizons_days),
        *(f"{s}_{part}" for s in SEGMENTS for part in ("buyers", "value_365d")),
    ]
    if not len(buyers):
        return pd.DataFrame(columns=columns, index=pd.Index([], name="brand_id"))
    g = buyers.groupby("brand_id")
    out = pd.DataFrame({"p_alive_mean": g["p_alive"].mean()})
    for h in config.horizons_days:
        out[f"expected_purchases_{h}d"] = g[f"expected_purchases_{h}d"].mean()
        out[f"value_per_buyer_{h}d"] = g[f"expected_value_{h}d"].mean()
    seg = buyers.groupby(["brand_id", "segment"]).size().unstack(fill_value=0)
    # What each segment is expected to spend over the next year (the business view's value),
    # summed over the buyers' values as stored, to the cent: the segment's figure is then the
    # sum of its buyers' rows on every surface and on every engine.
    if "expected_value_365d" in buyers.columns:
        cents = buyers["expected_value_365d"].astype("float64").round(2)
        value = cents.groupby([buyers["brand_id"], buyers["segment"]]).sum().unstack(fill_value=0.0)
    else:  # no one-year horizon: no value to give
        value = pd.DataFrame(index=out.index)
    for s in SEGMENTS:
        out[f"{s}_buyers"] = seg[s].reindex(out.index, fill_value=0) if s in seg.columns else 0
        out[f"{s}_value_365d"] = (
            value[s].reindex(out.index, fill_value=0.0) if s in value.columns else np.nan
        )
        if "expected_value_365d" in buyers.columns and s not in value.columns:
            out[f"{s}_value_365d"] = 0.0
    return out[columns]


def brand_table(
    fits: Sequence[BrandClv], buyers: pd.DataFrame, config: ClvConfig, observation_end: date
) -> pd.DataFrame:
    """One row per brand: fitted parameters, fit level, per-buyer predictions and segment counts.

    This is ``mdl_clv_brand``; money columns are per buyer (yuan).
    """
    return brand_table_of(fits, buyer_summary(buyers, config), config, observation_end)


def brand_table_of(
    fits: Sequence[BrandClv], summary: pd.DataFrame, config: ClvConfig, observation_end: date
) -> pd.DataFrame:
    """:func:`brand_table` from the buyers' :func:`buyer_summary` (made where the buyers are)."""
    rows = []
    for f in fits:
        row: dict[str, Any] = {
            "brand_id": f.brand_id,
            "category": f.category,
            "observation_end": observation_end,
            "time_unit": config.time_unit,
            "buyers": f.buyers,
            "repeat_buyers": f.repeat_buyers,
            "repeat_model": f.repeat.model,
            "fit_level": f.repeat_level,
            "r": f.repeat.params["r"],
            "alpha": f.repeat.params["alpha"],
            "a": f.repeat.params.get("a"),
            "b": f.repeat.params.get("b"),
            "s": f.repeat.params.get("s"),
            "beta": f.repeat.params.get("beta"),
            "loglik": f.repeat.loglik,
            "loglik_bg_nbd": f.repeat.loglik_bg_nbd,
            "loglik_pareto_nbd": f.repeat.loglik_pareto_nbd,
            "spend_fit_level": f.spend_level,
            "gg_p": f.spend.p if f.spend else None,
            "gg_q": f.spend.q if f.spend else None,
            "gg_gamma": f.spend.gamma if f.spend else None,
            "notes": "; ".join(f.notes),
        }
        known = f.brand_id in summary.index
        for name in summary.columns:
            if name.endswith("_buyers"):
                row[name] = int(summary.at[f.brand_id, name]) if known else 0
            else:
                row[name] = float(summary.at[f.brand_id, name]) if known else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    # Typed columns even when every brand leaves one empty (e.g. no Pareto/NBD fit anywhere).
    for col in ("a", "b", "s", "beta", "loglik_bg_nbd", "loglik_pareto_nbd", "gg_p", "gg_q"):
        out[col] = out[col].astype(float)
    out["gg_gamma"] = out["gg_gamma"].astype(float)
    out["category"] = out["category"].astype("string")
    return out
